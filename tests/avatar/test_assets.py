"""Built-in avatars: valid glTF 2.0 files with the 52 ARKit morph targets."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from faceplay.avatar.model import Avatar, builtin_names, builtin_path
from faceplay.face.types import BLENDSHAPE_NAMES

pygltflib = pytest.importorskip("pygltflib")


def test_at_least_four_builtins():
    names = builtin_names()
    assert len(names) >= 4 and {"toon", "robot", "creature", "bear"} <= set(names)


@pytest.mark.parametrize("name", ["toon", "robot", "creature", "bear"])
def test_glb_validates_with_52_arkit_targets(name):
    path = builtin_path(name)
    assert path.stat().st_size < 3_000_000  # lean enough to ship
    g = pygltflib.GLTF2().load(str(path))
    assert g.asset.version == "2.0"
    mesh = g.meshes[0]
    names = mesh.extras["targetNames"]
    assert set(BLENDSHAPE_NAMES) <= set(names) and len(mesh.weights) == len(names)
    blob = g.binary_blob()
    for prim in mesh.primitives:
        assert len(prim.targets) == len(names)
        n = g.accessors[prim.attributes.POSITION].count
        for t in prim.targets:
            acc = g.accessors[t["POSITION"]]
            assert acc.count == n and acc.type == "VEC3" and acc.componentType == 5126
            assert acc.min is not None and acc.max is not None
        idx = g.accessors[prim.indices]
        assert idx.count % 3 == 0
    # every buffer view lies inside the binary chunk
    for bv in g.bufferViews:
        assert bv.byteOffset + bv.byteLength <= len(blob)
    # the glTF JSON is strict (what viewers parse)
    data = path.read_bytes()
    ln = struct.unpack_from("<I", data, 12)[0]
    json.loads(data[20:20 + ln])


@pytest.mark.parametrize("name", ["toon", "robot", "creature", "bear"])
def test_key_expressions_are_wired(name):
    """jaw, mouth, lips, cheeks, eyes/eyelids, brows and tongue targets all move geometry."""
    av = Avatar(name)
    moved = {}
    for prim in av.asset.primitives:
        for i, t in enumerate(prim.mesh.morph_names):
            moved[t] = moved.get(t, 0.0) + float(np.abs(prim.mesh.morph_positions[i]).max())
    for t in ("jawOpen", "mouthSmileLeft", "mouthPucker", "mouthFunnel", "mouthRollLower", "cheekPuff", "eyeBlinkLeft",
              "eyeBlinkRight", "eyeLookUpLeft", "eyeLookOutRight", "eyeWideLeft", "browInnerUp", "browDownLeft",
              "tongueOut", "noseSneerLeft", "jawLeft"):
        assert moved.get(t, 0.0) > 0.2, f"{name}: {t} does not move anything"
    silent = [t for t in BLENDSHAPE_NAMES if moved.get(t, 0.0) <= 0.05]
    assert not silent, f"{name}: targets without effect: {silent}"

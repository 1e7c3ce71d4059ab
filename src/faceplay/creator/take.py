"""glTF 2.0 animation takes: an avatar .glb plus one animation of the tracked face (Blender, three.js, Unreal).

The avatar (a built-in name or a .glb/.vrm file) is copied as it is and gets
one animation ``faceplay take``:

* a ``weights`` channel per node whose mesh has ARKit morph targets (matched
  like :func:`faceplay.avatar.model.resolve_targets`: case-insensitive, a
  mapping file, or VRM expression presets), one key per frame, LINEAR;
* a ``rotation`` channel on the head: the node of a VRM ``head`` bone (or a
  node named ``Head``) when there is one, else a new node ``Head`` inserted
  above the scene's root nodes (built-in avatars), one key per frame.

Built-in avatars keep only their default parts (the toon's long hair and
beard options are dropped), as ``faceplay avatar`` shows them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from faceplay.creator.arkit import quat_mul
from faceplay.creator.sample import Sample
from faceplay.face.types import BLENDSHAPE_NAMES
from faceplay.media.output import atomic_output
from faceplay.render.gltf import GltfError

_GLB, _JSON, _BIN = 0x46546C67, 0x4E4F534A, 0x004E4942
ANIMATION_NAME = "faceplay take"


def read_glb_chunks(path: Path) -> tuple[dict, bytes]:
    """(JSON document, BIN chunk) of a .glb file."""
    data = path.read_bytes()
    if len(data) < 20 or struct.unpack_from("<I", data, 0)[0] != _GLB:
        raise GltfError(f"{path.name} is not a glTF binary (.glb/.vrm); export the avatar as glTF 2.0 binary")
    gltf, binc, off = None, b"", 12
    while off + 8 <= len(data):
        ln, typ = struct.unpack_from("<II", data, off)
        if typ == _JSON:
            gltf = json.loads(data[off + 8:off + 8 + ln].decode("utf-8"))
        elif typ == _BIN and not binc:
            binc = data[off + 8:off + 8 + ln]
        off += 8 + ln
    if gltf is None:
        raise GltfError(f"{path.name} has no JSON chunk; the file is damaged")
    return gltf, binc


def _target_names(gltf: dict, mi: int) -> list[str]:
    mesh = gltf["meshes"][mi]
    n = len((mesh.get("primitives") or [{}])[0].get("targets", []))
    names = list((mesh.get("extras") or {}).get("targetNames", []))
    if not names and mesh.get("primitives"):
        names = list((mesh["primitives"][0].get("extras") or {}).get("targetNames", []))
    return names if len(names) == n else [f"mesh{mi}.target{i}" for i in range(n)]


def _head_node(gltf: dict) -> tuple[int | None, bool]:
    """(node index of the head bone or None, True when the model faces -Z as VRM 0.x does)."""
    ext = gltf.get("extensions") or {}
    vrm0 = ext.get("VRM")
    if vrm0:
        for b in (vrm0.get("humanoid") or {}).get("humanBones", []):
            if b.get("bone") == "head" and "node" in b:
                return int(b["node"]), True
    vrm1 = ext.get("VRMC_vrm")
    if vrm1:
        head = ((vrm1.get("humanoid") or {}).get("humanBones") or {}).get("head")
        if head and "node" in head:
            return int(head["node"]), False
    for i, n in enumerate(gltf.get("nodes", [])):
        if str(n.get("name", "")).lower() in ("head", "j_bip_c_head"):
            return i, False
    return None, bool(vrm0)


def _drop_hidden_parts(gltf: dict) -> None:
    """Keep only the default option parts of a built-in faceplay avatar."""
    meta = ((gltf.get("asset") or {}).get("extras") or {}).get("faceplay") or {}
    opts = meta.get("options") or {}
    default = opts.get("default") or {}
    hidden = {p for k, choices in opts.items() if k != "default" for parts in choices.values() for p in parts}
    shown = {p for k, v in default.items() for p in (opts.get(k) or {}).get(v, [])}
    hidden -= shown
    if not hidden:
        return
    for mesh in gltf.get("meshes", []):
        mesh["primitives"] = [p for p in mesh["primitives"] if (p.get("extras") or {}).get("name") not in hidden]


class GlbTakeWriter:
    """Collects :class:`Sample` s and writes the avatar with their animation on :meth:`close`."""

    def __init__(self, path: str | Path, avatar: str | Path = "toon", mapping: dict[str, str] | None = None) -> None:
        from faceplay.avatar.model import builtin_names, builtin_path, load_asset, resolve_targets

        self.path = Path(path)
        src = builtin_path(str(avatar)) if str(avatar) in builtin_names() else Path(avatar)
        if src.suffix.lower() not in (".glb", ".vrm"):
            raise GltfError(f"--avatar {avatar}: not a built-in avatar ({', '.join(builtin_names())}) nor a .glb/.vrm file "
                            "(glTF 2.0 binary with ARKit morph targets)")
        targets = resolve_targets(load_asset(src), mapping)  # ARKit name -> [(target name, weight)]
        self.gltf, self.bin = read_glb_chunks(src)
        _drop_hidden_parts(self.gltf)
        self.avatar = str(avatar)
        # per morph-target name: (52,) weights from ARKit weights
        by_target: dict[str, np.ndarray] = {}
        for k, a in enumerate(BLENDSHAPE_NAMES):
            for t, w in targets.get(a, []):
                by_target.setdefault(t, np.zeros(len(BLENDSHAPE_NAMES), np.float32))[k] += w
        self.channels: list[tuple[int, np.ndarray]] = []  # (node, (n_targets, 52) matrix)
        for ni, node in enumerate(self.gltf.get("nodes", [])):
            if "mesh" not in node:
                continue
            names = _target_names(self.gltf, node["mesh"])
            rows = [by_target.get(n, np.zeros(len(BLENDSHAPE_NAMES), np.float32)) for n in names]
            if rows and any(r.any() for r in rows):
                self.channels.append((ni, np.stack(rows)))
        if not self.channels:
            raise GltfError(f"{src.name}: no mesh node carries the avatar's ARKit morph targets")
        self.times: list[float] = []
        self.weights: list[np.ndarray] = []
        self.quats: list[np.ndarray] = []

    def write(self, s: Sample) -> None:
        """Add the key of one frame."""
        self.times.append(float(s.time))
        self.weights.append(np.asarray(s.weights, np.float32).copy())
        self.quats.append(s.quat)

    def abort(self) -> None:
        """Nothing was written yet; drop the keys."""
        self.times.clear()

    def close(self) -> Path:
        """Write the .glb (atomically) and return its path."""
        g = self.gltf
        binc = bytearray(self.bin)
        views, accs = g.setdefault("bufferViews", []), g.setdefault("accessors", [])

        def accessor(a: np.ndarray, typ: str, minmax: bool = False) -> int:
            while len(binc) % 4:
                binc.append(0)
            data = np.ascontiguousarray(a, np.float32)
            views.append({"buffer": 0, "byteOffset": len(binc), "byteLength": data.nbytes})
            binc.extend(data.tobytes())
            acc = {"bufferView": len(views) - 1, "componentType": 5126, "count": int(data.shape[0]), "type": typ}
            if minmax:
                acc["min"], acc["max"] = [float(data.min())], [float(data.max())]
            accs.append(acc)
            return len(accs) - 1

        n = len(self.times)
        t = np.asarray(self.times, np.float64)
        if n == 0:
            raise GltfError(f"{self.path}: no frame was tracked; nothing to animate")
        t = (t - t[0]).astype(np.float32)
        if n == 1:
            t = np.array([0.0], np.float32)
        samplers, channels = [], []
        t_acc = accessor(t, "SCALAR", minmax=True)
        w = np.stack(self.weights)  # (n, 52)
        for node, mat in self.channels:
            out = np.clip(w @ mat.T, 0.0, 1.0)  # (n, n_targets)
            samplers.append({"input": t_acc, "output": accessor(out.reshape(-1), "SCALAR"), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": "weights"}})
        head, faces_minus_z = _head_node(g)
        q = np.stack(self.quats)
        if faces_minus_z:  # seen from behind: rotate the rotation by 180 degrees about Y
            q = q * np.array([-1, 1, -1, 1])
        if head is None:
            scene = g["scenes"][g.get("scene", 0)]
            g["nodes"].append({"name": "Head", "children": list(scene.get("nodes", []))})
            head = len(g["nodes"]) - 1
            scene["nodes"] = [head]
        else:
            rest = g["nodes"][head].get("rotation")
            if rest is not None:
                q = np.stack([quat_mul(rest, qi) for qi in q])
        samplers.append({"input": t_acc, "output": accessor(q, "VEC4"), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": head, "path": "rotation"}})
        g.setdefault("animations", []).append({"name": ANIMATION_NAME, "samplers": samplers, "channels": channels})
        while len(binc) % 4:
            binc.append(0)
        if not g.get("buffers"):
            g["buffers"] = [{}]
        g["buffers"][0]["byteLength"] = len(binc)
        g["buffers"][0].pop("uri", None)
        g.setdefault("asset", {})["generator"] = "faceplay track"
        js = json.dumps(g, separators=(",", ":")).encode("utf-8")
        js += b" " * ((4 - len(js) % 4) % 4)
        with atomic_output(self.path) as tmp, open(tmp, "wb") as f:
            f.write(struct.pack("<III", _GLB, 2, 12 + 8 + len(js) + 8 + len(binc)))
            f.write(struct.pack("<II", len(js), _JSON) + js)
            f.write(struct.pack("<II", len(binc), _BIN) + bytes(binc))
        return self.path

"""The one glTF 2.0 binary (.glb) reader (and, in :mod:`faceplay.render.gltf_write`, writer).

The reader bakes node transforms into vertices and returns one
:class:`Primitive` (mesh + material) per glTF primitive, with morph targets
(dense or sparse accessors) named from ``mesh.extras.targetNames`` (the
convention of Blender, Ready Player Me and three.js). The writer stores one
mesh with several primitives sharing the same named morph targets, sparse
where a target moves few vertices, textures embedded as PNG.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceplay.errors import InputError, InputNotFoundError
from faceplay.render.material import Material
from faceplay.render.mesh import MeshData

log = logging.getLogger(__name__)

_GLB_MAGIC = 0x46546C67
_JSON, _BIN = 0x4E4F534A, 0x004E4942
_CTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


class GltfError(InputError):
    """A .glb file cannot be read or does not hold what is needed."""


@dataclass
class Primitive:
    """One drawable part of a glTF asset: geometry (in asset space) + material."""

    mesh: MeshData
    material: Material
    node: str = ""


@dataclass
class GltfAsset:
    """What :func:`read_glb` returns."""

    primitives: list[Primitive]
    morph_names: list[str]
    extras: dict
    path: str = ""
    extensions: dict = field(default_factory=dict)  #: top-level glTF extensions (e.g. VRM, VRMC_vrm)
    mesh_target_names: dict = field(default_factory=dict)  #: glTF mesh index -> its morph target names
    node_mesh: dict = field(default_factory=dict)  #: glTF node index -> mesh index

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.min([p.mesh.positions.min(0) for p in self.primitives], axis=0)
        hi = np.max([p.mesh.positions.max(0) for p in self.primitives], axis=0)
        return lo, hi


# ----------------------------------------------------------------------------- reading
def _node_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T
    m = np.eye(4)
    t = node.get("translation", [0, 0, 0])
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    s = node.get("scale", [1, 1, 1])
    r = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
    m[:3, :3] = r * np.asarray(s)[None, :]
    m[:3, 3] = t
    return m


class _Reader:
    def __init__(self, gltf: dict, bin_chunk: bytes) -> None:
        self.g, self.bin = gltf, bin_chunk

    def view_bytes(self, vi: int) -> bytes:
        bv = self.g["bufferViews"][vi]
        if bv.get("buffer", 0) != 0:
            raise GltfError("only .glb files with one embedded buffer are supported (export as 'glTF Binary')")
        off = bv.get("byteOffset", 0)
        return self.bin[off:off + bv["byteLength"]]

    def accessor(self, ai: int) -> np.ndarray:
        acc = self.g["accessors"][ai]
        n, comp = acc["count"], _NCOMP[acc["type"]]
        dt = np.dtype(_CTYPES[acc["componentType"]])
        if "bufferView" in acc:
            bv = self.g["bufferViews"][acc["bufferView"]]
            raw = self.view_bytes(acc["bufferView"])
            stride = bv.get("byteStride") or dt.itemsize * comp
            off = acc.get("byteOffset", 0)
            if stride == dt.itemsize * comp:
                a = np.frombuffer(raw, dt, count=n * comp, offset=off).reshape(n, comp)
            else:
                a = np.ndarray((n, comp), dt, buffer=raw, offset=off, strides=(stride, dt.itemsize))
            a = np.array(a, dtype=np.float32 if dt == np.float32 else dt)
        else:
            a = np.zeros((n, comp), dt)
        if acc.get("normalized") and dt != np.float32:
            a = a.astype(np.float32) / float(np.iinfo(dt).max)
        sp = acc.get("sparse")
        if sp:
            a = np.array(a, dtype=np.float32 if dt == np.float32 or acc.get("normalized") else dt)
            ii = sp["indices"]
            idt = np.dtype(_CTYPES[ii["componentType"]])
            idx = np.frombuffer(self.view_bytes(ii["bufferView"]), idt, count=sp["count"], offset=ii.get("byteOffset", 0))
            vals = np.frombuffer(self.view_bytes(sp["values"]["bufferView"]), dt, count=sp["count"] * comp,
                                 offset=sp["values"].get("byteOffset", 0)).reshape(-1, comp)
            a[idx.astype(np.int64)] = vals
        return a

    def image(self, ti: int | None) -> np.ndarray | None:
        if ti is None:
            return None
        from PIL import Image

        tex = self.g["textures"][ti]
        src = tex.get("source")
        if src is None:
            return None
        img = self.g["images"][src]
        if "bufferView" not in img:
            log.warning("texture %s is not embedded in the .glb; ignored", img.get("uri"))
            return None
        im = Image.open(io.BytesIO(self.view_bytes(img["bufferView"])))
        return np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB"))

    def material(self, mi: int | None) -> Material:
        if mi is None:
            return Material()
        m = self.g["materials"][mi]
        pbr = m.get("pbrMetallicRoughness", {})
        ext = m.get("extensions", {})
        sheen = ext.get("KHR_materials_sheen", {})
        cc = ext.get("KHR_materials_clearcoat", {})
        mr_tex = self.image(pbr.get("metallicRoughnessTexture", {}).get("index"))
        return Material(
            name=m.get("name", f"material{mi}"),
            base_color=tuple(pbr.get("baseColorFactor", [1, 1, 1, 1])),
            metallic=float(pbr.get("metallicFactor", 1.0)),
            roughness=float(pbr.get("roughnessFactor", 1.0)),
            emissive=tuple(m.get("emissiveFactor", [0, 0, 0])),
            base_color_texture=self.image(pbr.get("baseColorTexture", {}).get("index")),
            normal_texture=self.image(m.get("normalTexture", {}).get("index")),
            normal_scale=float(m.get("normalTexture", {}).get("scale", 1.0)),
            roughness_texture=None if mr_tex is None else np.ascontiguousarray(mr_tex[..., 1]),
            sheen_color=tuple(sheen.get("sheenColorFactor", [0, 0, 0])),
            sheen_roughness=float(sheen.get("sheenRoughnessFactor", 0.5)),
            clearcoat=float(cc.get("clearcoatFactor", 0.0)),
            clearcoat_roughness=float(cc.get("clearcoatRoughnessFactor", 0.0)),
            double_sided=bool(m.get("doubleSided", False)),
        )


def read_glb(path: str | Path) -> GltfAsset:
    """Load a glTF 2.0 binary file into primitives with baked node transforms.

    Raises :class:`GltfError` (an :class:`~faceplay.errors.InputError`) with a
    message saying what is wrong when the file is not a usable .glb.
    """
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"avatar file not found: {p}")
    data = p.read_bytes()
    if len(data) < 20 or struct.unpack_from("<I", data, 0)[0] != _GLB_MAGIC:
        raise GltfError(f"{p.name} is not a glTF binary (.glb) file; export your model as glTF 2.0 binary")
    _, version, total = struct.unpack_from("<III", data, 0)
    if version != 2:
        raise GltfError(f"{p.name} is glTF version {version}; only glTF 2.0 is supported")
    off, gltf, binc = 12, None, b""
    while off + 8 <= min(total, len(data)):
        ln, typ = struct.unpack_from("<II", data, off)
        chunk = data[off + 8:off + 8 + ln]
        if typ == _JSON:
            gltf = json.loads(chunk.decode("utf-8"))
        elif typ == _BIN:
            binc = chunk
        off += 8 + ln
    if gltf is None:
        raise GltfError(f"{p.name} has no JSON chunk; the file is damaged")
    r = _Reader(gltf, binc)
    prims: list[Primitive] = []
    names_all: list[str] = []
    materials: dict[int | None, Material] = {}
    node_mesh: dict[int, int] = {}
    mesh_target_names: dict[int, list[str]] = {}

    def visit(ni: int, parent: np.ndarray) -> None:
        node = gltf["nodes"][ni]
        world = parent @ _node_matrix(node)
        if "mesh" in node:
            mesh = gltf["meshes"][node["mesh"]]
            tnames = list((mesh.get("extras") or {}).get("targetNames", []))
            if not tnames and mesh.get("primitives"):  # UniVRM stores them per primitive
                tnames = list((mesh["primitives"][0].get("extras") or {}).get("targetNames", []))
            node_mesh[ni] = node["mesh"]
            nrm_m = np.linalg.inv(world[:3, :3]).T
            for k, prim in enumerate(mesh.get("primitives", [])):
                if prim.get("mode", 4) != 4:
                    continue
                at = prim["attributes"]
                pos = r.accessor(at["POSITION"]).astype(np.float64)
                nv = len(pos)
                idx = r.accessor(prim["indices"]).reshape(-1).astype(np.uint32) if "indices" in prim else np.arange(nv, dtype=np.uint32)
                nrm = r.accessor(at["NORMAL"]).astype(np.float64) if "NORMAL" in at else None
                uv = r.accessor(at["TEXCOORD_0"]).astype(np.float32) if "TEXCOORD_0" in at else None
                targets = prim.get("targets", [])
                names = tnames if len(tnames) == len(targets) else [f"mesh{node['mesh']}.target{i}" for i in range(len(targets))]
                mesh_target_names[node["mesh"]] = names
                mp = np.zeros((len(targets), nv, 3), np.float32)
                mn = np.zeros((len(targets), nv, 3), np.float32) if nrm is not None else None
                for ti, t in enumerate(targets):
                    if "POSITION" in t:
                        mp[ti] = r.accessor(t["POSITION"]) @ world[:3, :3].T
                    if mn is not None and "NORMAL" in t:
                        mn[ti] = r.accessor(t["NORMAL"]) @ nrm_m.T
                pos_w = pos @ world[:3, :3].T + world[:3, 3]
                if nrm is not None:
                    nrm = nrm @ nrm_m.T
                    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
                if np.linalg.det(world[:3, :3]) < 0:
                    idx = idx.reshape(-1, 3)[:, ::-1].reshape(-1)
                mi = prim.get("material")
                if mi not in materials:
                    materials[mi] = r.material(mi)
                md = MeshData(pos_w, idx, nrm, uv, mp if targets else None, mn if targets else None, names if targets else [],
                              name=(prim.get("extras") or {}).get("name") or f"{mesh.get('name', 'mesh')}/{k}")
                prims.append(Primitive(md, materials[mi], node.get("name", "")))
                for nm in names:
                    if nm not in names_all:
                        names_all.append(nm)
        for c in node.get("children", []):
            visit(c, world)

    scenes = gltf.get("scenes") or [{"nodes": list(range(len(gltf.get("nodes", []))))}]
    roots = scenes[gltf.get("scene", 0)].get("nodes", [])
    for ni in roots:
        visit(ni, np.eye(4))
    if not prims:
        raise GltfError(f"{p.name} contains no triangle meshes")
    return GltfAsset(prims, names_all, gltf.get("asset", {}).get("extras", {}) or {}, str(p),
                     extensions=gltf.get("extensions", {}) or {}, mesh_target_names=mesh_target_names, node_mesh=node_mesh)


def write_glb(*args, **kwargs):
    """See :func:`faceplay.render.gltf_write.write_glb` (the writer lives in its own module)."""
    from faceplay.render.gltf_write import write_glb as _write

    return _write(*args, **kwargs)

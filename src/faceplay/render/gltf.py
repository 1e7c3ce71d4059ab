"""The one glTF 2.0 binary (.glb) reader and writer.

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


# ----------------------------------------------------------------------------- writing
def tangents(positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """glTF TANGENT (N, 4): per-vertex tangents from UVs, orthogonalised, w = bitangent sign."""
    p = positions.astype(np.float64)
    n = normals.astype(np.float64)
    uv = uvs.astype(np.float64)
    tri = indices.reshape(-1, 3).astype(np.int64)
    e1, e2 = p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]]
    d1, d2 = uv[tri[:, 1]] - uv[tri[:, 0]], uv[tri[:, 2]] - uv[tri[:, 0]]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    r = np.where(np.abs(det) > 1e-12, 1.0 / np.where(np.abs(det) > 1e-12, det, 1.0), 0.0)[:, None]
    t = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * r
    b = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * r
    T = np.zeros_like(p)
    B = np.zeros_like(p)
    for k in range(3):
        np.add.at(T, tri[:, k], t)
        np.add.at(B, tri[:, k], b)
    T -= n * (n * T).sum(1, keepdims=True)
    ln = np.linalg.norm(T, axis=1, keepdims=True)
    bad = ln[:, 0] < 1e-9
    if bad.any():  # no UV gradient: any unit vector perpendicular to the normal
        a = np.where(np.abs(n[bad, 0:1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
        T[bad] = np.cross(n[bad], a)
        ln[bad] = np.linalg.norm(T[bad], axis=1, keepdims=True)
    T /= np.maximum(ln, 1e-12)
    w = np.where((np.cross(n, T) * B).sum(1) < 0, -1.0, 1.0)
    return np.c_[T, w].astype(np.float32)



class _Writer:
    def __init__(self) -> None:
        self.bin = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        while len(self.bin) % 4:
            self.bin.append(0)
        v = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target:
            v["target"] = target
        self.bin += data
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, a: np.ndarray, *, target: int | None = None, minmax: bool = False) -> int:
        a = np.ascontiguousarray(a)
        typ = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}[1 if a.ndim == 1 else a.shape[1]]
        ct = {np.dtype(np.float32): 5126, np.dtype(np.uint32): 5125, np.dtype(np.uint16): 5123}[a.dtype]
        acc = {"bufferView": self.view(a.tobytes(), target), "componentType": ct, "count": int(a.shape[0]), "type": typ}
        if minmax:
            acc["min"] = np.atleast_1d(a.min(axis=0)).astype(float).tolist()
            acc["max"] = np.atleast_1d(a.max(axis=0)).astype(float).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def sparse_vec3(self, d: np.ndarray) -> int:
        """A VEC3 float accessor for a displacement array, sparse when that is smaller."""
        d = np.ascontiguousarray(d, np.float32)
        nz = np.flatnonzero(np.any(np.abs(d) > 1e-7, axis=1)).astype(np.uint32)
        n = len(d)
        lo = d.min(axis=0).astype(float).tolist() if n else [0, 0, 0]
        hi = d.max(axis=0).astype(float).tolist() if n else [0, 0, 0]
        if len(nz) * 16 >= n * 12:
            i = self.accessor(d, target=34962)
        else:
            acc = {"componentType": 5126, "count": n, "type": "VEC3"}
            if len(nz):
                acc["sparse"] = {
                    "count": int(len(nz)),
                    "indices": {"bufferView": self.view(nz.tobytes()), "componentType": 5125},
                    "values": {"bufferView": self.view(d[nz].tobytes())},
                }
            self.accessors.append(acc)
            i = len(self.accessors) - 1
        self.accessors[i]["min"], self.accessors[i]["max"] = lo, hi
        return i


def write_glb(path: str | Path, parts: list[tuple[MeshData, Material]], morph_names: list[str], *,
              name: str = "avatar", extras: dict | None = None) -> Path:
    """Write ``parts`` as one glTF 2.0 mesh (one primitive per part) to ``path``.

    Every part must carry the same morph targets, in the order of ``morph_names``
    (stored as ``mesh.extras.targetNames``); ``extras`` goes to ``asset.extras``.
    """
    from PIL import Image

    w = _Writer()
    images, textures, materials, prims = [], [], [], []
    ext_used: set[str] = set()
    tex_cache: dict[int, int] = {}

    def texture(arr: np.ndarray | None) -> int | None:
        if arr is None:
            return None
        if id(arr) in tex_cache:
            return tex_cache[id(arr)]
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", optimize=True)
        images.append({"bufferView": w.view(buf.getvalue()), "mimeType": "image/png"})
        textures.append({"source": len(images) - 1, "sampler": 0})
        tex_cache[id(arr)] = len(textures) - 1
        return len(textures) - 1

    mat_index: dict[int, int] = {}
    for mesh, mat in parts:
        if id(mat) not in mat_index:
            pbr = {"baseColorFactor": [float(x) for x in mat.base_color], "metallicFactor": float(mat.metallic),
                   "roughnessFactor": float(mat.roughness)}
            t = texture(mat.base_color_texture)
            if t is not None:
                pbr["baseColorTexture"] = {"index": t}
            if mat.roughness_texture is not None:
                g = np.asarray(mat.roughness_texture)
                mr = np.stack([np.zeros_like(g), g, np.zeros_like(g)], -1)  # G = roughness, B = metallic (0 -> factor*0)
                mr[..., 2] = 255
                pbr["metallicRoughnessTexture"] = {"index": texture(mr)}
            m = {"name": mat.name, "pbrMetallicRoughness": pbr}
            if any(mat.emissive):
                m["emissiveFactor"] = [float(x) for x in mat.emissive]
                if max(mat.emissive) > 1.0:
                    m["emissiveFactor"] = [float(x) / max(mat.emissive) for x in mat.emissive]
                    m.setdefault("extensions", {})["KHR_materials_emissive_strength"] = {"emissiveStrength": float(max(mat.emissive))}
                    ext_used.add("KHR_materials_emissive_strength")
            t = texture(mat.normal_texture)
            if t is not None:
                m["normalTexture"] = {"index": t, "scale": float(mat.normal_scale)}
            if any(mat.sheen_color):
                m.setdefault("extensions", {})["KHR_materials_sheen"] = {
                    "sheenColorFactor": [float(x) for x in mat.sheen_color], "sheenRoughnessFactor": float(mat.sheen_roughness)}
                ext_used.add("KHR_materials_sheen")
            if mat.clearcoat > 0:
                m.setdefault("extensions", {})["KHR_materials_clearcoat"] = {
                    "clearcoatFactor": float(mat.clearcoat), "clearcoatRoughnessFactor": float(mat.clearcoat_roughness)}
                ext_used.add("KHR_materials_clearcoat")
            if mat.double_sided:
                m["doubleSided"] = True
            materials.append(m)
            mat_index[id(mat)] = len(materials) - 1
        if mesh.n_targets != len(morph_names):
            raise ValueError(f"part {mesh.name!r} has {mesh.n_targets} morph targets, expected {len(morph_names)}")
        n = mesh.n_vertices
        idx = mesh.indices.astype(np.uint16) if n < 65536 else mesh.indices.astype(np.uint32)
        prim = {
            "attributes": {
                "POSITION": w.accessor(mesh.positions, target=34962, minmax=True),
                "NORMAL": w.accessor(mesh.normals, target=34962),
                "TEXCOORD_0": w.accessor(mesh.uvs, target=34962),
            },
            "indices": w.accessor(idx, target=34963),
            "material": mat_index[id(mat)],
            "mode": 4,
        }
        if mesh.name:
            prim["extras"] = {"name": mesh.name}
        if mat.normal_texture is not None:
            prim["attributes"]["TANGENT"] = w.accessor(tangents(mesh.positions, mesh.normals, mesh.uvs, mesh.indices),
                                                       target=34962)
        if morph_names:
            prim["targets"] = []
            for ti in range(len(morph_names)):
                t = {"POSITION": w.sparse_vec3(mesh.morph_positions[ti])}
                if mesh.morph_normals is not None:
                    t["NORMAL"] = w.sparse_vec3(mesh.morph_normals[ti])
                prim["targets"].append(t)
        prims.append(prim)

    mesh_json = {"name": name, "primitives": prims}
    if morph_names:
        mesh_json["weights"] = [0.0] * len(morph_names)
        mesh_json["extras"] = {"targetNames": list(morph_names)}
    gltf = {
        "asset": {"version": "2.0", "generator": "faceplay tools/build_avatars.py"},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [mesh_json],
        "materials": materials,
        "accessors": w.accessors,
        "bufferViews": w.views,
        "buffers": [{"byteLength": 0}],
    }
    if extras:
        gltf["asset"]["extras"] = extras
    if textures:
        gltf["textures"], gltf["images"] = textures, images
        gltf["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
    if ext_used:
        gltf["extensionsUsed"] = sorted(ext_used)
    while len(w.bin) % 4:
        w.bin.append(0)
    gltf["buffers"][0]["byteLength"] = len(w.bin)
    js = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    js += b" " * ((4 - len(js) % 4) % 4)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    total = 12 + 8 + len(js) + 8 + len(w.bin)
    with open(out, "wb") as f:
        f.write(struct.pack("<III", _GLB_MAGIC, 2, total))
        f.write(struct.pack("<II", len(js), _JSON) + js)
        f.write(struct.pack("<II", len(w.bin), _BIN) + bytes(w.bin))
    return out

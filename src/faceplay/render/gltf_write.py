"""The glTF 2.0 binary (.glb) writer: one mesh with several primitives sharing the same named
morph targets, sparse where a target moves few vertices, textures embedded as PNG
(the reader is :mod:`faceplay.render.gltf`)."""

from __future__ import annotations

import io
import json
import logging
import struct
from pathlib import Path

import numpy as np

from faceplay.render.gltf import _BIN, _GLB_MAGIC, _JSON
from faceplay.render.material import Material
from faceplay.render.mesh import MeshData

log = logging.getLogger(__name__)


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

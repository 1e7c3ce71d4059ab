"""Triangle meshes with normals, UVs and morph targets, on the CPU and on the GPU.

:class:`MeshData` is plain numpy (what loaders and builders produce);
:class:`GpuMesh` owns the OpenGL buffers of one mesh. Morph targets are blended
on the CPU (``base + sum(w_i * delta_i)`` over the active targets only), which
is cheap for lean meshes and identical on every OpenGL driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def vertex_normals(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Area-weighted smooth vertex normals, (N, 3) float32, unit length."""
    p = np.asarray(positions, dtype=np.float64)
    tri = np.asarray(indices, dtype=np.int64).reshape(-1, 3)
    fn = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    n = np.zeros_like(p)
    for k in range(3):
        np.add.at(n, tri[:, k], fn)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(ln > 1e-12, n / np.maximum(ln, 1e-12), np.array([0.0, 0.0, 1.0]))
    return n.astype(np.float32)


@dataclass
class MeshData:
    """One triangle mesh (one material) with optional morph targets.

    ``positions``/``normals`` are (N, 3) float32, ``uvs`` (N, 2) float32 (glTF
    convention: v grows downwards in the texture), ``indices`` (M*3,) uint32.
    ``morph_positions``/``morph_normals`` are (T, N, 3) float32 displacements,
    named by ``morph_names``.
    """

    positions: np.ndarray
    indices: np.ndarray
    normals: np.ndarray | None = None
    uvs: np.ndarray | None = None
    morph_positions: np.ndarray | None = None
    morph_normals: np.ndarray | None = None
    morph_names: list[str] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float32).reshape(-1, 3)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.uint32).reshape(-1)
        if self.normals is None:
            self.normals = vertex_normals(self.positions, self.indices)
        self.normals = np.ascontiguousarray(self.normals, dtype=np.float32).reshape(-1, 3)
        if self.uvs is None:
            self.uvs = np.zeros((len(self.positions), 2), np.float32)
        self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32).reshape(-1, 2)

    @property
    def n_vertices(self) -> int:
        return len(self.positions)

    @property
    def n_triangles(self) -> int:
        return len(self.indices) // 3

    @property
    def n_targets(self) -> int:
        return 0 if self.morph_positions is None else len(self.morph_positions)

    def _stacked(self):
        """(live target indices, (T_live, N*3) position deltas, normal deltas or None), built once."""
        st = getattr(self, "_stack", None)
        if st is None:
            mp = self.morph_positions
            live = np.flatnonzero(np.abs(mp).reshape(len(mp), -1).max(axis=1) > 0) if mp is not None else np.zeros(0, int)
            dp = np.ascontiguousarray(mp[live].reshape(len(live), -1), dtype=np.float32) if len(live) else None
            dn = None
            if self.morph_normals is not None and len(live):
                dn = np.ascontiguousarray(self.morph_normals[live].reshape(len(live), -1), dtype=np.float32)
                if not dn.any():
                    dn = None
            st = self._stack = (live, dp, dn)
        return st

    def live_targets(self) -> np.ndarray:
        """Indices of the morph targets that move at least one vertex of this mesh."""
        return self._stacked()[0]

    def morphed(self, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Positions and unit normals after applying morph ``weights`` (T,)."""
        if weights is None or self.morph_positions is None:
            return self.positions, self.normals
        live, dp, dn = self._stacked()
        if not len(live):
            return self.positions, self.normals
        w = np.asarray(weights, dtype=np.float32)[live]
        if not np.any(np.abs(w) > 1e-4):
            return self.positions, self.normals
        pos = self.positions + (w @ dp).reshape(-1, 3)
        if dn is not None:
            nrm = self.normals + (w @ dn).reshape(-1, 3)
            nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-8)
        else:
            nrm = self.normals
        return pos, nrm

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned (min, max) of the base positions."""
        return self.positions.min(axis=0), self.positions.max(axis=0)


class GpuMesh:
    """The OpenGL buffers of one :class:`MeshData` (positions/normals are dynamic).

    Call :meth:`update` with morphed positions and normals before drawing when
    the mesh has morph targets; :meth:`set_weights` does both.
    """

    def __init__(self, ctx, data: MeshData) -> None:
        self.ctx = ctx
        self.data = data
        self.pos_buf = ctx.buffer(data.positions.tobytes(), dynamic=True)
        self.nrm_buf = ctx.buffer(data.normals.tobytes(), dynamic=True)
        self.uv_buf = ctx.buffer(data.uvs.tobytes())
        self.idx_buf = ctx.buffer(data.indices.tobytes())
        self._vaos: dict[int, object] = {}
        self._weights: np.ndarray | None = None

    def update(self, positions: np.ndarray, normals: np.ndarray) -> None:
        """Upload new vertex positions and normals (same vertex count)."""
        self.pos_buf.write(np.ascontiguousarray(positions, dtype=np.float32).tobytes())
        self.nrm_buf.write(np.ascontiguousarray(normals, dtype=np.float32).tobytes())

    def set_weights(self, weights: np.ndarray | None) -> None:
        """Blend the morph targets with ``weights`` and upload (skipped when the weights of
        the targets that move this mesh are unchanged)."""
        if self.data.n_targets == 0:
            return
        live = self.data.live_targets()
        if not len(live):
            return
        w = None if weights is None else np.asarray(weights, dtype=np.float32)[live]
        if w is not None and not np.any(np.abs(w) > 1e-4):
            w = None
        prev = self._weights
        if (w is None and prev is None) or (w is not None and prev is not None and np.array_equal(w, prev)):
            return
        self._weights = None if w is None else w.copy()
        self.update(*self.data.morphed(weights))

    def vao(self, program):
        """The vertex array binding this mesh to ``program`` (cached)."""
        key = id(program)
        v = self._vaos.get(key)
        if v is None:
            names = set(program)
            content = [(buf, fmt, attr) for buf, fmt, attr in
                       ((self.pos_buf, "3f", "in_position"), (self.nrm_buf, "3f", "in_normal"), (self.uv_buf, "2f", "in_uv"))
                       if attr in names]
            v = self.ctx.vertex_array(program, content, index_buffer=self.idx_buf, index_element_size=4)
            self._vaos[key] = v
        return v

    def release(self) -> None:
        """Free the GPU buffers."""
        for v in self._vaos.values():
            v.release()
        self._vaos.clear()
        for b in (self.pos_buf, self.nrm_buf, self.uv_buf, self.idx_buf):
            b.release()

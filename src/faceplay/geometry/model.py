"""The parametric face prior: a morphable model on the 468-vertex canonical topology.

``shape(alpha, beta) = mean + id_basis · alpha + exp_basis · beta`` in MediaPipe's
canonical space (centimetres, +y up, +z towards the viewer), where ``alpha``
are identity coefficients (~N(0, 1), PCA of real faces) and ``beta`` the 52
ARKit blendshape weights (0..1). The file is built by
``tools/build_face_model.py`` and versioned (``face_model_v1.npz``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from faceplay.errors import ModelMissingError

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_FILE = DATA_DIR / "face_model_v1.npz"


@dataclass(frozen=True)
class MorphableModel:
    """Mean shape, identity and expression bases, topology and per-vertex occlusion."""

    version: int
    mean: np.ndarray  #: (468, 3) cm
    id_basis: np.ndarray  #: (K, 468, 3): unit-variance identity components
    exp_basis: np.ndarray  #: (52, 468, 3): displacement per unit of each ARKit blendshape
    triangles: np.ndarray  #: (898, 3) int32
    uvs: np.ndarray  #: (468, 2)
    ao: np.ndarray  #: (468,) ambient occlusion of the mean face, 0..1
    n_identity_faces: int
    n_expression_frames: int

    @property
    def n_identity(self) -> int:
        return self.id_basis.shape[0]

    def shape(self, alpha: np.ndarray | None = None, beta: np.ndarray | None = None) -> np.ndarray:
        """Vertices (468, 3) for identity ``alpha`` (K,) and expression ``beta`` (52,)."""
        v = self.mean.astype(np.float64).copy()
        if alpha is not None:
            v += np.tensordot(alpha, self.id_basis, axes=1)
        if beta is not None:
            v += np.tensordot(beta, self.exp_basis, axes=1)
        return v


@lru_cache(maxsize=2)
def load_model(path: str | None = None) -> MorphableModel:
    """Load the morphable model (cached). ``path`` defaults to the bundled v1 file."""
    p = Path(path) if path else MODEL_FILE
    if not p.is_file():
        raise ModelMissingError(f"morphable face model missing ({p}); rebuild it with `python tools/build_face_model.py`")
    d = np.load(p)
    return MorphableModel(
        version=int(d["version"]),
        mean=d["mean"],
        id_basis=d["id_basis"],
        exp_basis=d["exp_basis"],
        triangles=d["triangles"],
        uvs=d["uvs"],
        ao=d["ao"],
        n_identity_faces=int(d["n_identity_faces"]),
        n_expression_frames=int(d["n_expression_frames"]),
    )


@dataclass(frozen=True)
class Subdivision:
    """A linear subdivision operator: ``dense = op @ coarse`` for any per-vertex data."""

    op: sp.csr_matrix  #: (N_dense, 468)
    triangles: np.ndarray  #: (T_dense, 3) int32


def _loop_step(n: int, tris: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """One Loop subdivision step as a sparse (n + n_edges, n) matrix and the new triangles."""
    edges: dict[tuple[int, int], int] = {}
    opp: dict[tuple[int, int], list[int]] = {}
    for t in tris:
        for k in range(3):
            a, b, c = int(t[k]), int(t[(k + 1) % 3]), int(t[(k + 2) % 3])
            e = (min(a, b), max(a, b))
            opp.setdefault(e, []).append(c)
            if e not in edges:
                edges[e] = n + len(edges)
    neigh: list[set[int]] = [set() for _ in range(n)]
    boundary_neigh: list[set[int]] = [set() for _ in range(n)]
    for (a, b), cs in opp.items():
        neigh[a].add(b)
        neigh[b].add(a)
        if len(cs) == 1:
            boundary_neigh[a].add(b)
            boundary_neigh[b].add(a)
    rows, cols, vals = [], [], []
    for v in range(n):
        if boundary_neigh[v]:
            bn = list(boundary_neigh[v])[:2]
            rows += [v] * (1 + len(bn))
            cols += [v, *bn]
            vals += [0.75, *([0.125] * len(bn))] if len(bn) == 2 else [1.0]
        else:
            k = len(neigh[v])
            beta = (5 / 8 - (3 / 8 + np.cos(2 * np.pi / k) / 4) ** 2) / k
            rows += [v] * (k + 1)
            cols += [v, *neigh[v]]
            vals += [1 - k * beta, *([beta] * k)]
    for (a, b), idx in edges.items():
        cs = opp[(a, b)]
        if len(cs) == 2:
            rows += [idx] * 4
            cols += [a, b, cs[0], cs[1]]
            vals += [3 / 8, 3 / 8, 1 / 8, 1 / 8]
        else:
            rows += [idx] * 2
            cols += [a, b]
            vals += [0.5, 0.5]
    m = sp.csr_matrix((vals, (rows, cols)), shape=(n + len(edges), n))
    new = []
    for t in tris:
        a, b, c = (int(x) for x in t)
        ab, bc, ca = edges[(min(a, b), max(a, b))], edges[(min(b, c), max(b, c))], edges[(min(c, a), max(c, a))]
        new += [(a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca)]
    return m, np.asarray(new, np.int32)


@lru_cache(maxsize=4)
def subdivision(levels: int = 1) -> Subdivision:
    """The Loop subdivision operator of the canonical topology (``levels`` steps)."""
    tris = load_model().triangles
    op = sp.identity(468, format="csr")
    n = 468
    for _ in range(levels):
        m, tris = _loop_step(n, tris)
        op = (m @ op).tocsr()
        n = m.shape[0]
    return Subdivision(op=op, triangles=tris)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (counter-clockwise triangles face outwards)."""
    v = vertices
    fn = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]], v[triangles[:, 2]] - v[triangles[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

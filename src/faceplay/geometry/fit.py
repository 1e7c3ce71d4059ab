"""Per-frame fitting of the morphable model to a :class:`~faceplay.face.types.Face`.

The fit works in the image's *view frame*: x to the right and y up in pixels,
z towards the viewer in pixels (MediaPipe's landmark depth, negated). A
similarity pose (scale, rotation, translation — weak perspective, exact enough
for portraits) and the identity coefficients are solved alternately, a few
Gauss-Newton / linear least-squares rounds warm-started from the previous
frame; the expression comes from the Face's 52 ARKit blendshape scores, which
the expression basis was learned against. Identity is regularised towards the
mean (more strongly on profile views, where half the landmarks are guessed),
and in video it is held per track (a running, quality-weighted average).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceplay.geometry.model import MorphableModel, load_model, subdivision, vertex_normals

#: relative weight of MediaPipe's predicted depth against the measured x, y
DEPTH_WEIGHT = 0.5


@dataclass
class FaceFit:
    """A fitted face: pose, identity, expression and the posed 468 vertices (view frame)."""

    scale: float  #: pixels per centimetre
    rotation: np.ndarray  #: (3, 3) canonical -> view frame
    translation: np.ndarray  #: (3,) pixels
    alpha: np.ndarray  #: (K,) identity coefficients
    beta: np.ndarray  #: (52,) expression (ARKit blendshape weights)
    vertices: np.ndarray  #: (468, 3) view frame (x right, y up, z to the viewer; pixels)
    rms: float  #: landmark residual in pixels (x, y)
    yaw: float  #: degrees, from the fitted rotation (0 = frontal; same sign convention as Face.pose.yaw)

    def image_vertices(self, height: int) -> np.ndarray:
        """Vertices as image pixels (x right, y down) with z towards the viewer."""
        v = self.vertices.copy()
        v[:, 1] = height - v[:, 1]
        return v

    def mesh(self, levels: int = 1) -> "DenseMesh":
        """The subdivided mesh with smooth normals, UVs and occlusion."""
        return dense_mesh(self, levels)


@dataclass
class DenseMesh:
    """A subdivided face mesh in the view frame (see :class:`FaceFit`)."""

    vertices: np.ndarray  #: (N, 3) float32
    normals: np.ndarray  #: (N, 3) float32 unit normals (view frame)
    uvs: np.ndarray  #: (N, 2) float32
    ao: np.ndarray  #: (N,) float32 ambient occlusion 0..1
    triangles: np.ndarray  #: (T, 3) int32


def dense_mesh(fit: FaceFit, levels: int = 1) -> DenseMesh:
    """Subdivide a fit (Loop) and interpolate smooth normals, UVs and occlusion."""
    model = load_model()
    sub = subdivision(levels)
    n = vertex_normals(fit.vertices, model.triangles)
    verts = sub.op @ fit.vertices
    normals = sub.op @ n
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    return DenseMesh(
        vertices=verts.astype(np.float32),
        normals=normals.astype(np.float32),
        uvs=(sub.op @ model.uvs).astype(np.float32),
        ao=np.clip(sub.op @ model.ao, 0, 1).astype(np.float32),
        triangles=sub.triangles,
    )


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: scale, rotation, translation with ``dst ≈ s R src + t``."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = 1.0 if np.linalg.det(u @ vt) > 0 else -1.0
    D = np.array([1.0, 1.0, d])
    r = (u * D) @ vt
    scale = float((s * D).sum() / (a ** 2).sum())
    return scale, r, md - scale * r @ ms


def observed_points(landmarks: np.ndarray, height: int) -> np.ndarray:
    """Face landmarks (478, 3) image pixels -> the 468 mesh points in the view frame."""
    lm = np.asarray(landmarks, np.float64)[:468]
    return np.stack([lm[:, 0], height - lm[:, 1], -lm[:, 2]], axis=1)


@dataclass
class FaceFitter:
    """Fits the morphable model; keep one per track to hold identity across frames.

    >>> fitter = FaceFitter()
    >>> fit = fitter.fit(face.landmarks, face.blendshapes, image_height)
    """

    model: MorphableModel = field(default_factory=load_model)
    reg: float = 1.0  #: identity prior weight (in units of the mean landmark variance)
    iterations: int = 3
    hold_identity: bool = False  #: video: average identity over the track
    _alpha_sum: np.ndarray | None = None
    _alpha_w: float = 0.0
    _prev: FaceFit | None = None

    def __post_init__(self) -> None:
        k = self.model.n_identity
        self._B = self.model.id_basis.reshape(k, -1).T.astype(np.float64)  # (1404, K)
        # per-axis Gram matrices: B^T diag(w) B = sum_a w_a^2 B_a^T B_a for any axis weights w
        self._Ba = [self._B[a::3] for a in range(3)]
        self._G = [b.T @ b for b in self._Ba]
        self._E = self.model.exp_basis.reshape(52, -1).astype(np.float64)

    def fit(self, landmarks: np.ndarray, blendshapes: dict[str, float] | np.ndarray | None, height: int) -> FaceFit:
        """Fit pose + identity (+ the given expression) to one face's landmarks."""
        from faceplay.face.types import BLENDSHAPE_NAMES

        L = observed_points(landmarks, height)
        if blendshapes is None:
            beta = np.zeros(52)
        elif isinstance(blendshapes, dict):
            beta = np.array([float(blendshapes.get(n, 0.0)) for n in BLENDSHAPE_NAMES])
        else:
            beta = np.asarray(blendshapes, np.float64)
        mean = self.model.mean.astype(np.float64).reshape(-1)
        base = mean + beta @ self._E
        alpha = self._prev.alpha.copy() if self._prev is not None else np.zeros(self.model.n_identity)
        X = (base + self._B @ alpha).reshape(468, 3)
        wz = np.array([1.0, 1.0, DEPTH_WEIGHT])
        for it in range(self.iterations):
            s, R, t = _similarity(X, L)
            yaw = float(np.degrees(np.arctan2(R[0, 2], R[2, 2])))
            if self.hold_identity and self._alpha_w > 5:
                alpha = self._alpha_sum / self._alpha_w
            else:
                # observed points back in canonical space, depth down-weighted
                Lc = ((L - t) @ R) / s
                Xc = base.reshape(468, 3)
                r = (Lc - Xc)
                # weight: rotate the per-axis weights approximately (the depth axis is the view z)
                wv = (np.abs(R.T) @ wz)[None, :]
                w2 = wv[0] ** 2
                G = w2[0] * self._G[0] + w2[1] * self._G[1] + w2[2] * self._G[2]
                rhs = sum(w2[a] * (self._Ba[a].T @ r[:, a]) for a in range(3))
                lam = self.reg * (1.0 + 4.0 * (abs(yaw) / 60.0) ** 2) * 0.05 * 468
                alpha = np.linalg.solve(G + lam * np.eye(len(alpha)), rhs)
            X = (base + self._B @ alpha).reshape(468, 3)
        s, R, t = _similarity(X, L)
        V = s * X @ R.T + t
        rms = float(np.sqrt(((V[:, :2] - L[:, :2]) ** 2).sum(1).mean()))
        yaw = float(np.degrees(np.arctan2(R[0, 2], R[2, 2])))
        if self.hold_identity:
            w = max(np.cos(np.radians(yaw)), 0.05) ** 4
            self._alpha_sum = (self._alpha_sum if self._alpha_sum is not None else 0) + w * alpha
            self._alpha_w += w
        fit = FaceFit(scale=s, rotation=R, translation=t, alpha=alpha, beta=beta, vertices=V, rms=rms, yaw=yaw)
        self._prev = fit
        return fit

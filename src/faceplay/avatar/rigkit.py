"""Procedural geometry and the parametric face rig used to build the avatars.

Used by ``tools/build_avatars.py`` (the built-in .glb files are generated
once and committed); not needed at run time. Units are centimetres in
MediaPipe's canonical face space: +x to the person's left (image right for a
frontal face), +y up, +z out of the face, eyes near y=2.7, mouth near y=-4.3.

A character is a set of parts whose vertex positions are a function of a
parameter dict (the 52 ARKit weights plus shape options). Morph targets are
``geometry(one-hot) - geometry(neutral)``.
"""

from __future__ import annotations

import math

import numpy as np

from faceplay.face.types import BLENDSHAPE_NAMES


def smoothstep(e0, e1, x):
    """Hermite step from 0 at ``e0`` to 1 at ``e1`` (either order)."""
    t = np.clip((np.asarray(x, np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def grid_indices(rows: int, cols: int, wrap: bool = False, offset: int = 0) -> np.ndarray:
    """Triangle indices of a rows x cols vertex grid (counter-clockwise seen from outside)."""
    out = []
    cc = cols if wrap else cols - 1
    for i in range(rows - 1):
        for j in range(cc):
            a = i * cols + j
            b = i * cols + (j + 1) % cols
            c = (i + 1) * cols + j
            d = (i + 1) * cols + (j + 1) % cols
            out += [a, c, b, b, c, d]
    return np.asarray(out, np.uint32) + offset


def sphere_dirs(nlat: int, nlon: int, pole=(0.0, 1.0, 0.0), phase: float = np.pi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit directions of a UV sphere (nlat rows pole-to-pole, nlon+1 cols with a seam), uvs, indices.

    With the default ``phase`` the seam is at the back (-z) and u = 0.5 faces +z.
    """
    th = np.linspace(0, np.pi, nlat)
    ph = np.linspace(0, 2 * np.pi, nlon + 1) + phase
    T, P = np.meshgrid(th, ph, indexing="ij")
    d = np.stack([np.sin(T) * np.sin(P), np.cos(T), np.sin(T) * np.cos(P)], -1).reshape(-1, 3)
    uv = np.stack([(P - phase) / (2 * np.pi), T / np.pi], -1).reshape(-1, 2)
    pole = np.asarray(pole, np.float64)
    if not np.allclose(pole, [0, 1, 0]):
        # rotate +y onto pole
        v = np.cross([0, 1, 0], pole)
        s, c = np.linalg.norm(v), pole[1]
        if s < 1e-9:
            R = np.diag([1, -1, -1]) if c < 0 else np.eye(3)
        else:
            k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
            R = np.eye(3) + k + k @ k * ((1 - c) / s**2)
        d = d @ R.T
    idx = grid_indices(nlat, nlon + 1)
    return d, uv.astype(np.float32), idx


def rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


class HeadShape:
    """An analytic head: a tapered super-ellipsoid plus Gaussian bumps on the front.

    ``radii`` = half width, half height, half depth; ``power`` 2 = ellipsoid,
    larger = boxier; ``jaw_taper`` narrows the lower half; ``crown`` widens the
    top; ``bumps`` = [(x, y, sx, sy, height)] raise the front surface (muzzle, cheeks).
    """

    def __init__(self, center=(0.0, 1.5, -1.5), radii=(9.5, 12.0, 10.5), power=2.0, jaw_taper=0.2, crown=0.0, bumps=()):
        self.c = np.asarray(center, np.float64)
        self.r = np.asarray(radii, np.float64)
        self.p = float(power)
        self.jaw_taper = jaw_taper
        self.crown = crown
        self.bumps = list(bumps)

    def width_scale(self, y):
        yn = (np.asarray(y) - self.c[1]) / self.r[1]
        return 1.0 - self.jaw_taper * smoothstep(0.0, -1.0, yn) + self.crown * smoothstep(0.0, 1.0, yn) * 0.5

    def F(self, p):
        x, y, z = (p[..., i] - self.c[i] for i in range(3))
        a = self.r[0] * self.width_scale(p[..., 1])
        return np.abs(x / a) ** self.p + np.abs(y / self.r[1]) ** self.p + np.abs(z / self.r[2]) ** self.p

    def bump(self, x, y):
        h = np.zeros(np.broadcast(x, y).shape)
        for bx, by, sx, sy, hh in self.bumps:
            h = h + hh * np.exp(-(((x - bx) / sx) ** 2 + ((y - by) / sy) ** 2))
        return h

    def surface(self, dirs: np.ndarray) -> np.ndarray:
        """Points of the surface along unit directions from the centre (bumps included)."""
        lo = np.zeros(len(dirs))
        hi = np.full(len(dirs), 3.0 * self.r.max())
        for _ in range(40):
            mid = (lo + hi) / 2
            inside = self.F(self.c + dirs * mid[:, None]) < 1.0
            lo = np.where(inside, mid, lo)
            hi = np.where(inside, hi, mid)
        p = self.c + dirs * lo[:, None]
        front = smoothstep(self.c[2], self.c[2] + 0.5 * self.r[2], p[:, 2])
        p[:, 2] += self.bump(p[:, 0], p[:, 1]) * front
        return p

    def project(self, x, y) -> np.ndarray:
        """Front-surface points (N, 3) under image-plane coordinates x, y."""
        x = np.atleast_1d(np.asarray(x, np.float64))
        y = np.atleast_1d(np.asarray(y, np.float64))
        lo = np.full(x.shape, self.c[2])
        hi = np.full(x.shape, self.c[2] + 2.0 * self.r[2])
        for _ in range(40):
            mid = (lo + hi) / 2
            inside = self.F(np.stack([x, y, mid], -1)) < 1.0
            lo = np.where(inside, mid, lo)
            hi = np.where(inside, hi, mid)
        z = lo
        front = smoothstep(self.c[2], self.c[2] + 0.5 * self.r[2], z)
        return np.stack([x, y, z + self.bump(x, y) * front], -1)

    def normal_at(self, p: np.ndarray) -> np.ndarray:
        """Approximate outward normals at surface points (finite differences of the front projection)."""
        e = 0.05
        px = self.project(p[:, 0] + e, p[:, 1]) - self.project(p[:, 0] - e, p[:, 1])
        py = self.project(p[:, 0], p[:, 1] + e) - self.project(p[:, 0], p[:, 1] - e)
        n = np.cross(px, py)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        bad = n[:, 2] < 0.05
        if bad.any():
            r = p[bad] - self.c
            n[bad] = r / np.linalg.norm(r, axis=1, keepdims=True)
        return n


def tube(points: np.ndarray, radii, normals: np.ndarray, sides: int = 8, closed: bool = False, flat: float = 1.0):
    """A tube along a polyline: positions (len*sides, 3) and indices.

    ``normals`` orient the cross-section (one per point); ``flat`` < 1
    squashes it along the normal (ribbon-like brows and lips).
    """
    P = np.asarray(points, np.float64)
    n = len(P)
    r = np.broadcast_to(np.asarray(radii, np.float64), (n,))
    if closed:
        T = np.roll(P, -1, 0) - np.roll(P, 1, 0)
    else:
        T = np.gradient(P, axis=0)
    T /= np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-9)
    N = normals - (normals * T).sum(1, keepdims=True) * T
    N /= np.maximum(np.linalg.norm(N, axis=1, keepdims=True), 1e-9)
    B = np.cross(T, N)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = (np.cos(ang)[None, :, None] * N[:, None, :] * flat + np.sin(ang)[None, :, None] * B[:, None, :])
    pos = P[:, None, :] + ring * r[:, None, None]
    idx = []
    segs = n if closed else n - 1
    for i in range(segs):
        i2 = (i + 1) % n
        for j in range(sides):
            a, b = i * sides + j, i * sides + (j + 1) % sides
            c, d = i2 * sides + j, i2 * sides + (j + 1) % sides
            idx += [a, b, c, b, d, c]
    if not closed:  # caps
        base = n * sides
        pos = np.vstack([pos.reshape(-1, 3), P[0], P[-1]])
        for j in range(sides):
            idx += [base, (j + 1) % sides, j]
            idx += [base + 1, (n - 1) * sides + j, (n - 1) * sides + (j + 1) % sides]
        return pos, np.asarray(idx, np.uint32)
    return pos.reshape(-1, 3), np.asarray(idx, np.uint32)


def tube_uv(n: int, sides: int, closed: bool) -> np.ndarray:
    u = np.repeat(np.linspace(0, 1, n), sides)
    v = np.tile(np.linspace(0, 1, sides, endpoint=False), n)
    uv = np.stack([u * 4, v], -1)
    if not closed:
        uv = np.vstack([uv, [[0, 0.5], [4, 0.5]]])
    return uv.astype(np.float32)


def ellipsoid(center, radii, nlat=14, nlon=20, pole=(0, 1, 0), rot=None):
    """A UV ellipsoid: positions, uvs, indices."""
    d, uv, idx = sphere_dirs(nlat, nlon, pole)
    p = d * np.asarray(radii)
    if rot is not None:
        p = p @ np.asarray(rot).T
    return p + np.asarray(center), uv, idx


def cone(base_center, tip, radius, sides=12, rings=6, bend=(0, 0, 0)):
    """A (bent) cone from a circular base to a tip: positions, uvs, indices."""
    b, t = np.asarray(base_center, np.float64), np.asarray(tip, np.float64)
    ax = t - b
    L = np.linalg.norm(ax)
    ax /= L
    u = np.cross(ax, [0, 0, 1.0]) if abs(ax[2]) < 0.9 else np.cross(ax, [1.0, 0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(ax, u)
    pts, uvs = [], []
    for i in range(rings + 1):
        s = i / rings
        c = b + ax * L * s + np.asarray(bend) * (s * s)
        r = radius * (1 - s) ** 0.9 + 0.02
        for j in range(sides + 1):
            a = 2 * np.pi * j / sides
            pts.append(c + r * (np.cos(a) * u + np.sin(a) * v))
            uvs.append((j / sides, s))
    idx = grid_indices(rings + 1, sides + 1).reshape(-1, 3)[:, ::-1].reshape(-1)
    return np.asarray(pts), np.asarray(uvs, np.float32), idx


# ----------------------------------------------------------------------------- textures
def _rng(seed):
    return np.random.default_rng(seed)


def height_to_normal(h: np.ndarray, strength: float = 2.0) -> np.ndarray:
    """Tangent-space normal map (uint8 RGB) from a periodic height field."""
    dx = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) * 0.5 * strength
    dy = (np.roll(h, -1, 0) - np.roll(h, 1, 0)) * 0.5 * strength
    n = np.stack([-dx, dy, np.ones_like(h)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return ((n * 0.5 + 0.5) * 255 + 0.5).astype(np.uint8)


def periodic_blur(a: np.ndarray, sx: float, sy: float) -> np.ndarray:
    import cv2

    pad = int(3 * max(sx, sy)) + 1
    big = np.pad(a, pad, mode="wrap")
    k = lambda s: (int(s * 6) | 1)  # noqa: E731
    out = cv2.GaussianBlur(big.astype(np.float32), (k(sx), k(sy)), sigmaX=max(sx, 0.1), sigmaY=max(sy, 0.1))
    return out[pad:-pad, pad:-pad]


def brushed_height(size=256, seed=1) -> np.ndarray:
    r = _rng(seed)
    n = r.standard_normal((size, size))
    h = periodic_blur(n, 40.0, 0.6)  # long streaks along u
    h += 0.3 * periodic_blur(r.standard_normal((size, size)), 3, 3)
    return h / h.std()


def worley_height(size=256, cells=90, seed=2) -> np.ndarray:
    from scipy.spatial import cKDTree

    r = _rng(seed)
    pts = r.random((cells, 2)) * size
    yy, xx = np.mgrid[0:size, 0:size]
    q = np.stack([yy.ravel(), xx.ravel()], -1) + 0.5
    d, _ = cKDTree(pts, boxsize=size).query(q, k=2)
    f = (d[:, 1] - d[:, 0]).reshape(size, size)  # ridges between cells = creases
    h = np.sqrt(np.clip(f / f.max(), 0, 1))
    h += 0.15 * periodic_blur(r.standard_normal((size, size)), 1.5, 1.5)
    return h / h.std()


def strand_height(size=256, seed=3, along=12.0) -> np.ndarray:
    r = _rng(seed)
    h = periodic_blur(r.standard_normal((size, size)), 0.7, along)
    h += 0.5 * periodic_blur(r.standard_normal((size, size)), 0.5, along / 3)
    return h / h.std()


def eye_texture(iris_rgb, kind="round", size=(128, 256), iris=0.19, pupil=0.085, glow=False) -> np.ndarray:
    """Eyeball base-colour texture in polar UVs (v = angle from the front pole / pi, u = azimuth)."""
    h, w = size
    v = (np.arange(h) + 0.5)[:, None] / h * np.ones((1, w))
    u = (np.arange(w) + 0.5)[None, :] / w * np.ones((h, 1))
    az = u * 2 * np.pi
    px, py = v * np.sin(az), v * np.cos(az)
    img = np.ones((h, w, 3)) * np.array([0.96, 0.95, 0.93])
    img *= (1 - 0.25 * smoothstep(0.25, 0.5, v))[..., None]  # shade towards the back
    iris_rgb = np.asarray(iris_rgb, np.float64)
    rr = v / iris
    ring = np.clip(1 - rr, 0, 1)
    fibres = 0.85 + 0.15 * np.sin(az * 40) * (rr < 1)
    icol = iris_rgb[None, None, :] * (0.55 + 0.6 * (1 - rr))[..., None] * fibres[..., None]
    m_iris = smoothstep(1.02, 0.95, rr)[..., None]
    img = img * (1 - m_iris) + icol * m_iris
    limbus = smoothstep(0.8, 1.0, rr) * smoothstep(1.05, 1.0, rr)
    img *= (1 - 0.6 * limbus)[..., None]
    if kind == "slit":
        pr = np.sqrt((px / (pupil * 0.35)) ** 2 + (py / (pupil * 1.8)) ** 2)
    else:
        pr = v / pupil
    m_p = smoothstep(1.05, 0.95, pr)[..., None]
    img = img * (1 - m_p) + np.array([0.02, 0.02, 0.03]) * m_p
    del ring, glow
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def gradient_texture(top_rgb, bottom_rgb, split=0.62, soft=0.06, spots=None, size=(128, 256), seed=4) -> np.ndarray:
    """Head base-colour texture in spherical UVs: top colour above ``split`` (v), bottom colour below."""
    h, w = size
    v = (np.arange(h) + 0.5)[:, None] / h * np.ones((1, w))
    u = (np.arange(w) + 0.5)[None, :] / w * np.ones((h, 1))
    front = np.cos((u - 0.5) * 2 * np.pi)  # u=0.5 faces +z
    m = smoothstep(split - soft, split + soft, v - 0.08 * np.clip(front, 0, 1))
    m = m * smoothstep(-0.2, 0.4, front)  # belly colour only on the front/underside
    img = np.asarray(top_rgb)[None, None] * (1 - m[..., None]) + np.asarray(bottom_rgb)[None, None] * m[..., None]
    if spots is not None:
        from scipy.spatial import cKDTree

        r = _rng(seed)
        pts = r.random((40, 2)) * [h, w]
        yy, xx = np.mgrid[0:h, 0:w]
        d, _ = cKDTree(pts, boxsize=[h, w]).query(np.stack([yy.ravel(), xx.ravel()], -1) + 0.5)
        s = smoothstep(7, 4, d.reshape(h, w)) * (1 - m) * smoothstep(0.15, 0.3, v)
        img = img * (1 - s[..., None]) + np.asarray(spots)[None, None] * s[..., None]
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


ARKIT = BLENDSHAPE_NAMES

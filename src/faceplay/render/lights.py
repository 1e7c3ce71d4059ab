"""Lights and image-based lighting (environment maps with SH irradiance).

A :class:`Lighting` is a list of key lights (directional or point) plus an
:class:`Environment`: an equirectangular HDR image used for specular
reflections (mip level chosen by roughness) and, through 9 spherical-harmonic
coefficients, for diffuse irradiance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_LIGHTS = 8


@dataclass
class Light:
    """A key light. ``kind`` is "directional" (``direction`` the light travels
    towards the scene is ``-direction``: i.e. ``direction`` points from the
    scene to the light) or "point" (``position`` in world space, inverse-square
    falloff with ``range`` as the distance of unit intensity)."""

    direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 3.0
    kind: str = "directional"
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    range: float = 50.0

    def packed(self) -> tuple[np.ndarray, np.ndarray]:
        """(vec4 position-or-direction with w=0|1, vec4 rgb*intensity with range)."""
        if self.kind == "point":
            p = np.array([*self.position, 1.0], np.float32)
        else:
            d = np.asarray(self.direction, np.float64)
            p = np.array([*(d / max(np.linalg.norm(d), 1e-9)), 0.0], np.float32)
        c = np.array([*(np.asarray(self.color, np.float64) * self.intensity), self.range], np.float32)
        return p, c


def _dirs(h: int, w: int) -> np.ndarray:
    """Unit world directions of the texel centres of an equirect map (+y up, u=0.5 faces -z)."""
    v = (np.arange(h) + 0.5) / h
    u = (np.arange(w) + 0.5) / w
    theta = v * np.pi  # from +y down
    phi = (u - 0.5) * 2 * np.pi  # 0 at -z
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    x = st * np.sin(phi)[None, :]
    z = -st * np.cos(phi)[None, :]
    y = np.broadcast_to(ct, x.shape)
    return np.stack([x, y, z], axis=-1)


def sh9_irradiance(equirect: np.ndarray) -> np.ndarray:
    """(9, 3) SH coefficients of the irradiance (Ramamoorthi & Hanrahan) of a linear equirect map."""
    img = np.asarray(equirect, np.float64)[..., :3]
    h, w = img.shape[:2]
    d = _dirs(h, w)
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    theta = (np.arange(h) + 0.5) / h * np.pi
    dw = (np.sin(theta) * (np.pi / h) * (2 * np.pi / w))[:, None]
    basis = np.stack([
        0.282095 * np.ones_like(x), 0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z, 0.546274 * (x * x - y * y),
    ], axis=-1)
    coeffs = np.einsum("hwk,hwc,hw->kc", basis, img, dw)
    band = np.array([np.pi, 2 * np.pi / 3, 2 * np.pi / 3, 2 * np.pi / 3, np.pi / 4, np.pi / 4, np.pi / 4, np.pi / 4, np.pi / 4])
    return (coeffs * band[:, None] / np.pi).astype(np.float32)  # irradiance / pi = diffuse radiance for albedo 1


@dataclass
class Environment:
    """An equirectangular linear-HDR environment (H, W, 3) float32 and its intensity."""

    image: np.ndarray
    intensity: float = 1.0
    _sh: np.ndarray | None = field(default=None, repr=False)

    @property
    def sh(self) -> np.ndarray:
        """(9, 3) irradiance SH coefficients (computed once)."""
        if self._sh is None:
            self._sh = sh9_irradiance(self.image)
        return self._sh

    @classmethod
    def studio(cls, intensity: float = 1.0, warm: float = 0.0, size: tuple[int, int] = (64, 128)) -> "Environment":
        """A photo-studio environment: soft grey dome, dark floor, a big key softbox
        front-left, a fill front-right and a rim light behind. ``warm`` in -1..1 tints it."""
        h, w = size
        d = _dirs(h, w)
        y = d[..., 1]
        sky = np.clip(y, 0, 1)[..., None] * np.array([0.55, 0.58, 0.62]) + 0.25
        ground = np.clip(-y, 0, 1)[..., None] * np.array([-0.18, -0.18, -0.18])
        img = sky + ground

        def box(center, size_, power, color=(1.0, 1.0, 1.0)):
            c = np.asarray(center, np.float64)
            c /= np.linalg.norm(c)
            cosang = np.clip(d @ c, -1, 1)
            ang = np.arccos(cosang)
            m = np.clip((size_ - ang) / (0.25 * size_), 0, 1)
            return m[..., None] * power * np.asarray(color)

        img = img + box((-0.7, 0.6, 0.8), 0.45, 6.0, (1.0, 0.97, 0.92))
        img = img + box((0.9, 0.25, 0.6), 0.35, 2.0, (0.9, 0.95, 1.0))
        img = img + box((0.3, 0.5, -1.0), 0.3, 4.0)
        img = img + box((0.0, 1.0, 0.0), 0.5, 1.5)
        if warm:
            img = img * np.array([1 + 0.12 * warm, 1.0, 1 - 0.12 * warm])
        return cls(np.maximum(img, 0.02).astype(np.float32), intensity)

    @classmethod
    def from_image(cls, rgb: np.ndarray, intensity: float = 1.0) -> "Environment":
        """An environment from an sRGB uint8 (or linear float) equirect photo."""
        a = np.asarray(rgb)
        if a.dtype == np.uint8:
            from faceplay.render.material import srgb_to_linear

            a = srgb_to_linear(a[..., :3] / 255.0)
        return cls(np.asarray(a, np.float32)[..., :3], intensity)


@dataclass
class Lighting:
    """Key lights plus an optional environment (image-based lighting)."""

    lights: list[Light] = field(default_factory=list)
    environment: Environment | None = None
    exposure: float = 1.0

    @classmethod
    def studio(cls, exposure: float = 1.0) -> "Lighting":
        """Three-point lighting matched to :meth:`Environment.studio` (key, fill, rim)."""
        return cls(
            lights=[
                Light(direction=(-0.55, 0.55, 0.8), color=(1.0, 0.96, 0.9), intensity=2.6),
                Light(direction=(0.8, 0.15, 0.5), color=(0.85, 0.9, 1.0), intensity=0.9),
                Light(direction=(0.35, 0.5, -0.9), color=(1.0, 1.0, 1.0), intensity=2.0),
            ],
            environment=Environment.studio(),
            exposure=exposure,
        )

    @classmethod
    def fast(cls, exposure: float = 1.0) -> "Lighting":
        """Key light + the studio environment (fill and rim come from the IBL): about half
        the shading cost of :meth:`studio`, for live video on a CPU."""
        return cls(lights=[Light(direction=(-0.55, 0.55, 0.8), color=(1.0, 0.96, 0.9), intensity=3.0)],
                   environment=Environment.studio(intensity=1.15), exposure=exposure)

"""Lighting maths on normal maps: spherical harmonics and the virtual light rigs.

* :func:`sh_basis` / :func:`fit_sh` / :func:`eval_sh`: second-order (9-term)
  spherical harmonics of irradiance, fitted on the linear luminance of the
  face's skin pixels (robustly re-weighted so beard, glasses and highlights
  count less). The albedo prior: skin of luminance :data:`SKIN_ALBEDO`, so the
  fitted coefficients divided by it are the light itself.
* :func:`shade_rig`: diffuse (wrapped for soft / area lights) + Blinn-Phong
  specular of a :class:`~faceplay.relight.lights.Rig` on per-pixel normals,
  with ambient occlusion and the key light's soft shadow.

All colours are linear RGB. Normals are in the view frame (x right, y up, z to
the viewer).
"""

from __future__ import annotations

import numpy as np

from faceplay.relight.lights import Rig

#: prior mean skin albedo (linear luminance): a face lit by a unit light reads as sRGB ~0.7
SKIN_ALBEDO = 0.45
#: peak specular reflectance of skin (of the light's radiance)
SPECULAR = 0.045
#: ridge weights per SH band (0, 1, 2): keep the fit smooth where normals are few
_BAND_REG = np.array([1e-4, 0.02, 0.02, 0.02, 0.06, 0.06, 0.06, 0.06, 0.06])


def sh_basis(n: np.ndarray) -> np.ndarray:
    """Real SH basis up to order 2 for unit normals (..., 3) -> (..., 9)."""
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    return np.stack([
        np.full_like(x, 0.282095),
        0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1),
        1.092548 * x * z, 0.546274 * (x * x - y * y),
    ], axis=-1)


def fit_sh(normals: np.ndarray, colors: np.ndarray, weights: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Fit (9, C) SH coefficients so that ``colors ≈ sh_basis(normals) @ coeffs``.

    ``normals`` (M, 3), ``colors`` (M, C) linear values, ``weights`` (M,).
    Iteratively re-weighted (Cauchy) least squares with a band-wise ridge.
    """
    Y = sh_basis(normals.astype(np.float64))
    c = colors.astype(np.float64)
    w = weights.astype(np.float64)
    scale = max(float((w[:, None] * c).sum() / max(w.sum(), 1e-9)), 1e-3)
    coeffs = np.zeros((9, c.shape[1]))
    for _ in range(iterations):
        Yw = Y * w[:, None]
        A = Yw.T @ Y + np.diag(_BAND_REG) * max(w.sum(), 1.0)
        coeffs = np.linalg.solve(A, Yw.T @ c)
        r = np.abs(Y @ coeffs - c).mean(1) / scale
        w = weights * (1.0 / (1.0 + (r / 0.15) ** 2))
    return coeffs


def eval_sh(coeffs: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Evaluate (9, 3) SH coefficients on normals (..., 3) -> (..., 3)."""
    return sh_basis(normals) @ coeffs


def shade_rig(
    rig: Rig,
    normals: np.ndarray,
    positions: np.ndarray | None = None,
    ao: np.ndarray | None = None,
    key_visibility: np.ndarray | None = None,
    face_width: float = 100.0,
    face_center: np.ndarray | None = None,
    shininess_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse irradiance (..., 3) and specular radiance (..., 3) of ``rig``.

    ``positions`` (..., 3) view-frame pixels (for point lights), ``ao`` and
    ``key_visibility`` (...) in 0..1 (1 = unoccluded / lit).
    """
    shp = normals.shape[:-1]
    diff = np.zeros(shp + (3,), np.float32)
    spec = np.zeros(shp + (3,), np.float32)
    n = normals.astype(np.float32)
    ao_ = np.ones(shp, np.float32) if ao is None else ao.astype(np.float32)
    key = rig.key()
    half_v = np.array([0.0, 0.0, 1.0], np.float32)
    center = np.zeros(3) if face_center is None else np.asarray(face_center, np.float64)
    for light in rig.lights:
        rad = (light.radiance * (rig.exposure if rig.exposure_mode == "absolute" else 1.0)).astype(np.float32)
        if light.type == "ambient":
            # a soft sky: a little more from above than below
            diff += (ao_ * (0.8 + 0.2 * n[..., 1]))[..., None] * rad
            continue
        if light.type == "point" and positions is not None:
            lpos = center + light.direction() * light.distance * face_width
            lv = lpos[None].astype(np.float32) - positions.reshape(-1, 3).astype(np.float32)
            dist = np.linalg.norm(lv, axis=1, keepdims=True)
            lv = (lv / np.maximum(dist, 1e-6)).reshape(shp + (3,))
            atten = ((light.distance * face_width) / np.maximum(dist, 1e-6)).reshape(shp) ** 2
            ndl = (n * lv).sum(-1)
            hv = lv + half_v
            hv /= np.maximum(np.linalg.norm(hv, axis=-1, keepdims=True), 1e-6)
            ndh = (n * hv).sum(-1)
        else:
            d = light.direction().astype(np.float32)
            atten = 1.0
            ndl = n @ d
            hv = d + half_v
            hv /= np.linalg.norm(hv)
            ndh = n @ hv
        w = light.size
        lam = np.clip((ndl + w) / (1.0 + w), 0.0, None)
        vis = key_visibility if (light is key and key_visibility is not None) else 1.0
        occl = np.sqrt(ao_)
        diff += (lam * atten * vis * occl)[..., None] * rad
        # skin: a weak, fairly broad sheen (peak reflectance SPECULAR of the light's radiance)
        shin = (40.0 * (1.0 - w) + 12.0) * shininess_scale
        s = np.where(ndl > 0, np.clip(ndh, 0, 1) ** shin, 0.0) * SPECULAR * light.specular
        spec += (s * atten * vis * occl)[..., None] * rad
    return diff, spec

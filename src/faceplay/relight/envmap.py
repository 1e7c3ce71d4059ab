"""Light from an equirectangular HDR environment (``faceplay relight --env FILE.hdr|.exr``).

Convention (the image frame of :mod:`faceplay.relight.lights`): the panorama's
centre column looks from the face towards the camera (``az = 0``), its left
quarter is light from the image's left (``az = -90``), its right quarter from
the image's right (``az = +90``), its left and right edges from behind the
head; the top row is straight above (``el = +90``). ``--env-rotate DEG`` turns
the environment about the vertical axis: a light at ``az`` moves to
``az + DEG``. Pixel values are linear radiance (any scale: the relit face
keeps its exposure, only the light's shape and colour come from the file).

:func:`env_to_rig` finds the dominant light sources (connected regions far
brighter than the rest: a sun, a window, a softbox) and makes each a
directional / area key light (direction = energy-weighted mean, colour = mean
radiance, intensity = radiance integrated over its solid angle, softness from
its angular size); the strongest casts the face's soft shadow. The rest of the
environment, with those sources removed, is projected onto second-order SH as
the fill.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np

from faceplay.errors import ConfigError, InputError, InputNotFoundError
from faceplay.relight import illum
from faceplay.relight.lights import Light, Rig

log = logging.getLogger(__name__)

_LUMA = np.array([0.2126, 0.7152, 0.0722])
#: the environment is reduced to this many columns before it is analysed (rows = half)
WORK_WIDTH = 128
#: Ramamoorthi & Hanrahan: irradiance SH = A_l * radiance SH
_A = np.array([math.pi] + [2 * math.pi / 3] * 3 + [math.pi / 4] * 5)


def read_env(path: str | Path) -> np.ndarray:
    """An equirectangular HDR image as linear RGB float32 (H, W, 3); .hdr / .exr / .pfm (OpenCV), else imageio."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"{p}: no such environment file; give an equirectangular .hdr or .exr")
    if p.suffix.lower() == ".exr":
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    img = cv2.imread(str(p), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if img is None:
        img = _read_fallback(p)
    ldr = img.dtype == np.uint8
    img = np.asarray(img, np.float32)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    rgb = np.ascontiguousarray(img[..., 2::-1] if img.shape[2] >= 3 else np.repeat(img[..., :1], 3, 2))
    if ldr:
        rgb = (rgb / 255.0) ** 2.2  # an LDR panorama: sRGB to linear
    if rgb.shape[1] < 8 or abs(rgb.shape[1] / rgb.shape[0] - 2.0) > 0.25:
        raise InputError(f"{p}: an equirectangular environment is twice as wide as high, not {rgb.shape[1]}x{rgb.shape[0]}")
    if not np.isfinite(rgb).all():
        rgb = np.nan_to_num(rgb, nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(rgb, 0.0)


def _read_fallback(p: Path) -> np.ndarray:
    """BGR float pixels via imageio or (for .exr, when this OpenCV build has no EXR codec) the OpenEXR package."""
    try:
        if p.suffix.lower() == ".exr":
            import OpenEXR  # optional: `pip install OpenEXR`

            with OpenEXR.File(str(p)) as f:
                ch = f.channels()
                rgb = ch["RGB"].pixels if "RGB" in ch else np.stack([ch[c].pixels for c in "RGB"], -1)
            return np.asarray(rgb, np.float32)[..., ::-1]
        import imageio.v3 as iio

        img = np.asarray(iio.imread(p), np.float32)
        return img[..., :3][..., ::-1] if img.ndim == 3 else img
    except Exception:  # noqa: BLE001 - any reader failure is the same user error
        hint = ("this OpenCV build reads no EXR: `pip install OpenEXR`, or save the environment as a Radiance .hdr"
                if p.suffix.lower() == ".exr" else "save it as an equirectangular Radiance .hdr")
        raise InputError(f"{p}: cannot read this environment; {hint}") from None


def pixel_directions(h: int, w: int, rotate: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """View-frame unit directions (h, w, 3) of the panorama's pixel centres and their solid angles (h, w)."""
    az = np.radians((np.arange(w) + 0.5) / w * 360.0 - 180.0 + rotate)
    el = np.radians(90.0 - (np.arange(h) + 0.5) / h * 180.0)
    A, E = np.meshgrid(az, el)
    d = np.stack([np.sin(A) * np.cos(E), np.sin(E), np.cos(A) * np.cos(E)], -1)
    dw = (2 * math.pi / w) * (math.pi / h) * np.cos(E)
    return d, dw


def project_env(env: np.ndarray, rotate: float = 0.0) -> np.ndarray:
    """(9, 3) irradiance SH of an equirectangular environment (linear RGB)."""
    d, dw = pixel_directions(env.shape[0], env.shape[1], rotate)
    Y = illum.sh_basis(d).reshape(-1, 9)
    L = (env.reshape(-1, 3) * dw.reshape(-1, 1)).astype(np.float64)
    return _A[:, None] * (Y.T @ L)


def find_sources(env: np.ndarray, rotate: float = 0.0, max_lights: int = 2, min_share: float = 0.08) -> list[dict]:
    """Dominant light sources: regions ≥ 10x the median radiance (and ≥ 5 % of the peak), each holding at least
    ``min_share`` of the environment's energy. Sorted strongest first; each has a mask, direction, colour, energy."""
    d, dw = pixel_directions(env.shape[0], env.shape[1], rotate)
    y = env @ _LUMA.astype(np.float32)
    total = float((y * dw).sum())
    if total <= 0:
        return []
    thr = max(10.0 * float(np.median(y)), 0.05 * float(y.max()))
    mask = (y > thr).astype(np.uint8)
    # the panorama wraps around: label with the left edge appended on the right, then fold back
    wrap = np.concatenate([mask, mask[:, :1]], 1)
    n, lab = cv2.connectedComponents(wrap, connectivity=8)
    if n > 1:
        right, left = lab[:, -1], lab[:, 0]
        for a, b in zip(right[(right > 0) & (left > 0)], left[(right > 0) & (left > 0)]):
            lab[lab == a] = b
    lab = lab[:, :-1]
    out = []
    for i in range(1, n):
        m = lab == i
        if not m.any():
            continue
        e = (y * dw)[m]
        energy = float(e.sum())
        if energy < min_share * total:
            continue
        v = (d[m] * e[:, None]).sum(0)
        spread = 1.0 - float(np.linalg.norm(v)) / max(energy, 1e-12)  # 0 = a point, grows with the size
        rad = (env[m] * dw[m][:, None]).sum(0)  # RGB irradiance at normal incidence
        out.append({"mask": m, "direction": v / max(np.linalg.norm(v), 1e-12), "irradiance": rad,
                    "energy": energy, "share": energy / total, "spread": spread})
    out.sort(key=lambda s: -s["energy"])
    return out[:max_lights]


def env_to_rig(env: np.ndarray, rotate: float = 0.0, max_lights: int = 2, name: str = "env") -> tuple[Rig, dict]:
    """The rig of an environment: its dominant sources as key lights + the rest as SH fill (``keep`` exposure)."""
    from faceplay.relight.reference import (
        describe_sh,
        direction_to_az_el,
        project_rig,
        rig_from_sh,
    )

    if not -360.0 <= rotate <= 360.0:
        raise ConfigError(f"--env-rotate must be between -360 and 360 degrees, not {rotate}")
    h = max(WORK_WIDTH // 2, 4)
    small = cv2.resize(env, (2 * h, h), interpolation=cv2.INTER_AREA) if env.shape[1] > 2 * h else env
    sources = find_sources(small, rotate, max_lights)
    rest = small.copy()
    keys, described = [], []
    if sources:
        floor = np.median(small.reshape(-1, 3), axis=0)
        for s in sources:
            rest[s["mask"]] = floor  # the source removed: the environment behind it
            az, el = direction_to_az_el(s["direction"])
            rad = s["irradiance"]
            peak = float(rad.max())
            size = float(np.clip(s["spread"] * 6.0, 0.05, 0.9))
            keys.append(Light("area" if size > 0.15 else "directional", az=az, el=el, intensity=peak,
                              color=tuple(float(c) for c in rad / peak), size=size))
            described.append({"az": round(az, 1), "el": round(el, 1), "share": round(s["share"], 3),
                              "size": round(size, 3), "color": [round(float(c), 3) for c in rad / peak]})
        fill = project_env(rest, rotate)
        rig = Rig(name=name, lights=tuple(keys), sh=fill, exposure_mode="keep",
                  description="dominant environment lights + SH fill")
    else:  # no distinct source (overcast, a studio wall): the SH light with a key along its dominant direction
        rig, _ = rig_from_sh(project_env(small, rotate), name=name, description="environment SH light")
    info = {"rotate": rotate, "key_lights": described, "sh": describe_sh(project_rig(rig)),
            "size": [int(env.shape[1]), int(env.shape[0])]}
    log.info("environment: %d key light(s); overall light az %.0f el %.0f", len(keys), info["sh"]["az"], info["sh"]["el"])
    return rig, info


def light_from_env(path: str | Path, rotate: float = 0.0, max_lights: int = 2) -> tuple[Rig, dict]:
    """Read ``path`` (equirectangular .hdr / .exr) and make its rig; ``info`` describes the lights found."""
    rig, info = env_to_rig(read_env(path), rotate, max_lights, name=f"env:{Path(path).name}")
    info["file"] = str(path)
    return rig, info

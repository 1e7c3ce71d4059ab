"""Render passes of a relit photo or video (``faceplay relight --passes DIR``), for compositing.

Every pass is at the input's full resolution (computed on the shading map's
grid and upsampled bilinearly, as the relight itself is):

=================  ====================================================================================
``normals``        16-bit RGB PNG; view-frame unit normal (x right, y up, z towards the camera) stored
                   as ``(n + 1) / 2 * 65535``; face-mesh normals on the face, proxy normals on hair /
                   neck / body, ``0, 0, 0`` where the matte is below 0.5
``depth``          16-bit grey PNG; the face mesh's z towards the camera in input pixels, stored as
                   ``32768 + 16 * z`` (1/16 px steps; the mesh's centre is near z = 0); ``0`` off the face
``albedo``         16-bit RGB PNG, sRGB-encoded reflectance: the input in linear light divided by the
                   estimated original shading (so skin is near the albedo prior 0.45 linear); outside
                   the foreground the input itself
``shading_before`` 16-bit RGB PNG, *linear* light: the estimated original shading, ``1.0 = 16384``
                   (range 0..4); 1.0 outside the foreground
``shading_after``  the same for the relit result: the original shading times the gain the blend
                   applied (strength included); ``albedo * shading_after`` is the relit image before
                   highlights
``specular``       8-bit grey PNG: the highlight layer, screen-blended over ``albedo * shading_after``
                   (``out = c + s * (1 - c)`` in sRGB)
``matte``          8-bit grey PNG: the foreground matte (255 = person)
=================  ====================================================================================

Photos: one file per pass, ``DIR/<pass>.png``, plus ``DIR/passes.json`` saying the above. Video: one
numbered sequence per pass, ``DIR/<pass>/<pass>_000000.png`` (frame index from 0).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from faceplay.errors import InputError

log = logging.getLogger(__name__)

PASSES = ("normals", "depth", "albedo", "shading_before", "shading_after", "specular", "matte")
SHADING_ONE = 16384.0  #: the 16-bit code of shading 1.0
DEPTH_SCALE = 16.0  #: depth codes per input pixel
_GAMMA = 2.2

DESCRIPTION = {
    "normals": "16-bit RGB; view-frame normal (x right, y up, z to camera) as (n+1)/2*65535; 0 = no foreground",
    "depth": "16-bit grey; face-mesh z towards the camera in input pixels as 32768 + 16*z; 0 = off the face",
    "albedo": "16-bit RGB, sRGB-encoded reflectance (linear input / original shading)",
    "shading_before": "16-bit RGB, linear light, 1.0 = 16384: the estimated original shading",
    "shading_after": "16-bit RGB, linear light, 1.0 = 16384: the relit shading; albedo x shading_after = relit image "
                     "before highlights",
    "specular": "8-bit grey: highlight amount s, screen-blended in sRGB: out = c + s*(1-c)",
    "matte": "8-bit grey: foreground matte, 255 = person",
}


def compute(rgb: np.ndarray, result) -> dict[str, np.ndarray]:
    """The passes of one relit frame as arrays ready to write (uint16 / uint8, RGB order)."""
    H, W = rgb.shape[:2]
    lin = (rgb.astype(np.float32) / 255.0) ** _GAMMA
    L = result.layers
    if L is None:  # no face relit: a neutral set (the frame is its own albedo, light 1, no foreground)
        one = np.full((H, W, 3), SHADING_ONE, np.uint16)
        return {"normals": np.zeros((H, W, 3), np.uint16), "depth": np.zeros((H, W), np.uint16),
                "albedo": _srgb16(lin), "shading_before": one, "shading_after": one.copy(),
                "specular": np.zeros((H, W), np.uint8), "matte": np.zeros((H, W), np.uint8)}

    def up(x):
        return cv2.resize(np.ascontiguousarray(x, np.float32), (W, H), interpolation=cv2.INTER_LINEAR)

    s = float(L.strength)
    old = L.old_shading.copy()
    old[np.all(old <= 0, axis=-1)] = 1.0  # outside the foreground box: light 1
    old_up = np.maximum(up(old), 1e-4)
    eff = 1.0 + s * (np.power(np.maximum(L.gain, 0.0), 1.0 / _GAMMA) - 1.0)  # the composite's sRGB gain
    after = old_up * np.power(np.maximum(up(eff), 0.0), _GAMMA)
    albedo = lin / old_up
    n = up(L.normals)
    nn = np.linalg.norm(n, axis=-1, keepdims=True)
    matte = up(L.matte)
    valid = (nn[..., 0] > 0.5) & (matte > 0.5)
    n = np.where(valid[..., None], n / np.maximum(nn, 1e-6), 0.0)
    normals = np.where(valid[..., None], np.round((n + 1.0) * 0.5 * 65535), 0).astype(np.uint16)
    depth = np.zeros((H, W), np.uint16)
    if L.depth is not None:
        scale = W / L.depth.shape[1]  # render pixels -> input pixels
        cov = up(L.face) > 0.5
        z = up(L.depth) * scale
        # bilinear z is only valid where the four render pixels were all on the face
        inside = cv2.erode(cov.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        depth[inside] = np.clip(np.round(32768 + DEPTH_SCALE * z[inside]), 1, 65535).astype(np.uint16)
    sp = s * np.clip(2.5 * L.specular, 0.0, 1.0)
    return {
        "normals": normals,
        "depth": depth,
        "albedo": _srgb16(np.clip(albedo, 0.0, 1.0)),
        "shading_before": _lin16(old_up),
        "shading_after": _lin16(after),
        "specular": np.clip(up(sp).max(-1) * 255 + 0.5, 0, 255).astype(np.uint8),
        "matte": np.clip(matte * 255 + 0.5, 0, 255).astype(np.uint8),
    }


def _srgb16(lin: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.power(np.clip(lin, 0, 1), 1 / _GAMMA) * 65535), 0, 65535).astype(np.uint16)


def _lin16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * SHADING_ONE), 0, 65535).astype(np.uint16)


def _write(path: Path, im: np.ndarray) -> None:
    if im.ndim == 3:
        im = np.ascontiguousarray(im[..., ::-1])
    if not cv2.imwrite(str(path), im):
        raise InputError(f"{path}: cannot write this pass; check that the --passes folder is writable")


def _prepare(directory: str | Path) -> Path:
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise InputError(f"{d}: --passes needs a folder, and this is a file; choose another path")
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_photo(directory: str | Path, rgb: np.ndarray, result) -> dict[str, str]:
    """Write the passes of one relit photo as ``DIR/<pass>.png`` and ``DIR/passes.json``; returns pass -> path."""
    d = _prepare(directory)
    out = {}
    for name, im in compute(rgb, result).items():
        p = d / f"{name}.png"
        _write(p, im)
        out[name] = str(p)
    (d / "passes.json").write_text(json.dumps({"passes": DESCRIPTION, "files": out}, indent=2))
    return out


write_passes = write_photo


class SequenceWriter:
    """Video: one numbered PNG sequence per pass, ``DIR/<pass>/<pass>_NNNNNN.png``."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = _prepare(directory)
        for name in PASSES:
            (self.dir / name).mkdir(exist_ok=True)
        (self.dir / "passes.json").write_text(json.dumps({"passes": DESCRIPTION,
                                                          "pattern": "<pass>/<pass>_NNNNNN.png (frame index)"},
                                                         indent=2))
        self.frames = 0

    def write(self, index: int, rgb: np.ndarray, result) -> None:
        """Write frame ``index``'s passes."""
        for name, im in compute(rgb, result).items():
            _write(self.dir / name / f"{name}_{int(index):06d}.png", im)
        self.frames += 1


def read_pass(path: str | Path) -> np.ndarray:
    """A pass PNG as written (RGB order for colour passes, dtype kept)."""
    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise InputError(f"{path}: not a readable pass PNG")
    return im[..., ::-1] if im.ndim == 3 else im


def recombine(albedo16: np.ndarray, shading16: np.ndarray, specular8: np.ndarray | None = None) -> np.ndarray:
    """``albedo × shading`` (+ highlights) back to an sRGB uint8 image: how a compositor rebuilds the frame."""
    alb = (albedo16.astype(np.float32) / 65535.0) ** _GAMMA
    lin = alb * shading16.astype(np.float32) / SHADING_ONE
    c = np.power(np.clip(lin, 0, 1), 1 / _GAMMA)
    if specular8 is not None:
        s = specular8.astype(np.float32)[..., None] / 255.0
        c = c + s * (1 - c)
    return np.clip(c * 255 + 0.5, 0, 255).astype(np.uint8)

"""Skin tone on skin pixels: ITA° and the Monk Skin Tone scale.

Skin pixels come from cheek and forehead patches (landmark polygons), with
shadows and highlights trimmed by lightness percentiles. Lighting robustness:
the white of the eyes (sclera) is a near-neutral reference present in every
face; its colour gives half of a white-balance correction (clamped to ±10 %)
before the skin colour is converted to CIELAB; shadows and highlights are
trimmed, and the Monk swatch is matched on lightness and chroma together. ITA = atan((L* - 50) / b*).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from faceplay.face.types import Face, SkinTone
from faceplay.media.frame import Frame

# Landmark polygons (MediaPipe FaceMesh indices) of the skin patches.
CHEEK_LEFT = [117, 118, 101, 36, 205, 187, 123]
CHEEK_RIGHT = [346, 347, 330, 266, 425, 411, 352]
FOREHEAD = [109, 10, 338, 337, 9, 108]
# Eye openings (between the lids) for the sclera reference.
EYE_LEFT = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
EYE_RIGHT = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]

#: Monk Skin Tone scale swatches (sRGB), 1 = lightest.
MONK_HEX = ("f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96", "a07e56", "825c43", "604134", "3a312a", "292420")


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8/float (N, 3) → CIELAB (N, 3), L in 0..100."""
    a = np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(a, cv2.COLOR_RGB2LAB).reshape(-1, 3)


MONK_LAB = _lab(np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in MONK_HEX], dtype=np.float32))


def _patch_pixels(frame: Frame, face: Face, polys: list[list[int]]) -> np.ndarray:
    x, y, w, h = (int(round(v)) for v in face.box)
    pad = int(0.1 * max(w, h))
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(frame.width, x + w + pad), min(frame.height, y + h + pad)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 3), np.uint8)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for poly in polys:
        pts = np.round(face.landmarks[poly, :2] - (x0, y0)).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255)
    return frame.rgb[y0:y1, x0:x1][mask > 0]


def skin_tone(frame: Frame, face: Face) -> SkinTone:
    """Measure the skin tone of ``face`` and store it in ``face.skin_tone``."""
    skin = _patch_pixels(frame, face, [CHEEK_LEFT, CHEEK_RIGHT, FOREHEAD]).astype(np.float32)
    if len(skin) < 20:
        x, y, w, h = (int(round(v)) for v in face.box)
        skin = frame.rgb[max(0, y + h // 3) : max(1, y + 2 * h // 3), max(0, x + w // 4) : max(1, x + 3 * w // 4)].reshape(-1, 3)
        skin = skin.astype(np.float32)
    lum = skin @ np.array([0.299, 0.587, 0.114], np.float32)
    lo, hi = np.percentile(lum, [20, 85])
    skin = skin[(lum >= lo) & (lum <= hi)] if (hi > lo) else skin
    gain = _sclera_gain(frame, face)
    colour = np.clip(np.median(skin, axis=0) * gain, 0, 255)
    lab = _lab(colour[None])[0]
    ita = math.degrees(math.atan2(lab[0] - 50.0, max(lab[2], 1e-3)))
    # nearest Monk swatch, lightness weighted most (chroma varies with camera processing)
    d = ((MONK_LAB - lab) * np.array([1.0, 0.5, 0.5])) ** 2
    monk = int(np.argmin(d.sum(1))) + 1
    tone = SkinTone(monk=monk, ita=float(ita), rgb=tuple(int(round(c)) for c in colour))
    face.skin_tone = tone
    return tone


def _sclera_gain(frame: Frame, face: Face) -> np.ndarray:
    """Per-channel white-balance gain from the sclera colour."""
    eye = _patch_pixels(frame, face, [EYE_LEFT, EYE_RIGHT]).astype(np.float32)
    if len(eye) < 30:
        return np.ones(3, np.float32)
    lum = eye.mean(1)
    sclera = eye[lum >= np.percentile(lum, 70)]  # the brightest part: sclera, not iris or lashes
    ref = np.median(sclera, axis=0)
    if ref.min() < 25:  # eyes too dark (shadow, closed): no usable reference
        return np.ones(3, np.float32)
    # White balance only, half of the way to neutral (the sclera is slightly warm
    # and often shadowed by the lids, so it is no reliable exposure reference).
    balance = np.sqrt(ref.mean() / np.maximum(ref, 1.0))
    return np.clip(balance, 0.9, 1.1).astype(np.float32)

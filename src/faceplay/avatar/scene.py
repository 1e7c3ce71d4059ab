"""Fitting a rendered avatar into the frame: scene exposure and the live anti-aliasing.

Video and live frames render without MSAA (on llvmpipe 4x MSAA costs 2-3x the whole
render), within a pixel budget; :func:`soften_edges` then smooths only the silhouette,
which is where aliasing shows once the avatar is composited over the frame.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from faceplay.face.types import Face


def scene_exposure(rgb: np.ndarray, faces: Sequence[Face], previous: float | None = None) -> float:
    """Exposure that fits an avatar into the scene: darker around dim faces, a little brighter
    in bright ones. ``previous`` (a stream's last value) smooths it over time."""
    lum = []
    H, W = rgb.shape[:2]
    for f in faces:
        x, y, w, h = (int(v) for v in f.box)
        x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
        patch = rgb[y0:min(H, y + h + h // 2):3, x0:min(W, x + w + w // 2):3]
        if patch.size:
            lum.append(float(patch.mean()) / 255.0)
    if not lum:
        return 1.0 if previous is None else previous
    e = float(np.clip((np.mean(lum) / 0.45) ** 0.6, 0.55, 1.2))
    return e if previous is None else 0.85 * previous + 0.15 * e


def soften_edges(rgba: np.ndarray) -> np.ndarray:
    """Anti-alias the silhouette of a premultiplied RGBA render in place and return it.

    Pixels whose 3x3 neighbourhood mixes covered and empty pixels take the 3x3 box
    average (coverage and premultiplied colour alike), i.e. a 3x3 supersampled edge;
    the inside of the avatar stays sharp. About 1 ms at the live pixel budget.
    """
    import cv2

    a = rgba[..., 3]
    k = np.ones((3, 3), np.uint8)
    edge = cv2.dilate(a, k) != cv2.erode(a, k)
    if edge.any():
        blurred = cv2.blur(rgba, (3, 3))
        rgba[edge] = blurred[edge]
    return rgba

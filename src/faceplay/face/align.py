"""Face alignment: the 5-point similarity transform to the ArcFace 112x112 template."""

from __future__ import annotations

import cv2
import numpy as np

from faceplay.face.types import Face
from faceplay.media.frame import Frame

#: ArcFace / SFace template: right eye, left eye, nose tip, right and left mouth corner (112x112).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping ``src`` points onto ``dst``; 2x3 matrix."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    r = u @ d @ vt
    scale = np.trace(np.diag(sig) @ d) / s0.var(0).sum()
    t = mu_d - scale * r @ mu_s
    return np.c_[scale * r, t].astype(np.float32)


def aligned_crop(frame: Frame, face: Face, size: int = 112) -> np.ndarray:
    """RGB ``size``x``size`` crop aligned to the ArcFace template; cached on the frame per face."""

    def make() -> np.ndarray:
        m = similarity_transform(face.keypoints5(), ARCFACE_TEMPLATE * (size / 112.0))
        return cv2.warpAffine(frame.rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return frame.cached(("aligned", id(face), size), make)

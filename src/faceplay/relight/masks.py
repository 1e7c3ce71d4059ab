"""Masks for relighting: skin weights on the mesh, the foreground matte, proxy normals.

* :func:`vertex_skin_weights`: per canonical vertex, 1 on skin and 0 on the eyes,
  brows and lips (used to fit the original light on skin only).
* :class:`Matter`: the person matte from ``faceplay.matting`` when that model is
  installed, otherwise a head-and-shoulders matte derived from the fitted face
  (logged once as a warning).
* :func:`proxy_normals`: normals for hair, neck and body from the matte's shape
  (an "inflated" silhouette), so light falls off naturally beyond the face.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: matte probabilities below this count as background (exactly 0)
MATTE_ZERO = 0.08

RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
#: the outline of the face mesh (MediaPipe's face oval), in order
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)


@lru_cache(maxsize=1)
def vertex_skin_weights() -> np.ndarray:
    """(468,) 0..1: 0 on eyes, brows and lips (with a soft margin), 1 on skin."""
    from faceplay.geometry.model import load_model

    v = load_model().mean[:, :2].astype(np.float64)
    w = np.ones(len(v))
    for ids, margin in ((RIGHT_EYE, 1.35), (LEFT_EYE, 1.35), (LIPS, 1.15), (RIGHT_BROW, 1.3), (LEFT_BROW, 1.3)):
        pts = v[list(ids)]
        c = pts.mean(0)
        half = np.maximum((pts.max(0) - pts.min(0)) / 2, 0.3) * margin
        d = np.sqrt((((v - c) / half) ** 2).sum(1))
        w = np.minimum(w, np.clip((d - 1.0) / 0.4, 0.0, 1.0))
    return w.astype(np.float32)


def face_polygon(landmarks: np.ndarray) -> np.ndarray:
    """(36, 2) image-pixel outline of a face from its landmarks."""
    return np.asarray(landmarks, np.float32)[list(FACE_OVAL), :2]


def mesh_matte(shape: tuple[int, int], faces_landmarks: list[np.ndarray]) -> np.ndarray:
    """A head-and-shoulders matte (H, W) float32 0..1 derived from face landmarks.

    The face oval is grown upwards for hair and sideways a little, with a neck and
    shoulders below; edges are feathered. Used when no matting model is installed.
    """
    h, w = shape
    m = np.zeros((h, w), np.float32)
    for lm in faces_landmarks:
        poly = face_polygon(lm)
        c = poly.mean(0)
        fw = float(np.ptp(poly[:, 0]))
        fh = float(np.ptp(poly[:, 1]))
        # head incl. hair: ellipse around the oval, shifted up
        cv2.ellipse(m, (int(c[0]), int(c[1] - 0.12 * fh)), (int(0.62 * fw), int(0.68 * fh)), 0, 0, 360, 1.0, -1)
        # neck and shoulders
        top = c[1] + 0.35 * fh
        neck = np.array([[c[0] - 0.3 * fw, top], [c[0] + 0.3 * fw, top], [c[0] + 0.35 * fw, c[1] + 0.8 * fh],
                         [c[0] + 1.3 * fw, c[1] + 1.15 * fh], [c[0] + 1.5 * fw, h + fh], [c[0] - 1.5 * fw, h + fh],
                         [c[0] - 1.3 * fw, c[1] + 1.15 * fh], [c[0] - 0.35 * fw, c[1] + 0.8 * fh]], np.int32)
        cv2.fillPoly(m, [neck], 1.0)
        k = max(3, int(0.08 * fw) | 1)
        m = np.maximum(m, 0)
        m = cv2.GaussianBlur(m, (0, 0), k / 2.0)
    return np.clip(m, 0, 1)


class Matter:
    """Foreground (person) matte provider.

    ``prefer``: ``auto`` — ``faceplay.matting.PersonSegmenter`` (MediaPipe
    Selfie, fast; smoothed over time by the relighter in video); ``rvm`` —
    ``faceplay.matting.VideoMatting`` (Robust Video Matting, finer hair, slow
    on a CPU); ``mesh`` — the landmark-derived :func:`mesh_matte`, also the
    fallback when no matting model is installed.
    """

    def __init__(self, video: bool = False, prefer: str = "auto") -> None:
        self.video = video
        self.prefer = prefer
        self._model = None
        self._tried = False
        self.source = "mesh"

    def _load(self) -> None:
        self._tried = True
        if self.prefer == "mesh":
            return
        try:
            from faceplay import matting  # type: ignore[attr-defined]

            if self.prefer == "rvm":
                self._model = matting.VideoMatting(long_side=256)
            else:
                self._model = matting.PersonSegmenter("selfie")
            self.source = getattr(self._model, "name", type(self._model).__name__)
            return
        except Exception as exc:  # noqa: BLE001 - any failure means: use the fallback
            log.warning("person matting model not available (%s); using a head-and-shoulders matte from the face mesh", exc)
            self._model = None

    def __call__(self, rgb: np.ndarray, faces_landmarks: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """Matte (h, w) float32 0..1 at ``size`` = (w, h)."""
        if not self._tried:
            self._load()
        w, h = size
        if self._model is not None:
            try:
                m = self._matte_from_model(rgb)
                m = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
                # a hard zero in the background: pixels there are left exactly unchanged
                return np.clip((m - MATTE_ZERO) / (1.0 - 2 * MATTE_ZERO), 0, 1)
            except Exception as exc:  # noqa: BLE001
                log.warning("matting failed (%s); using the face-mesh matte", exc)
                self._model = None
                self.source = "mesh"
        H, W = rgb.shape[:2]
        sx, sy = w / W, h / H
        lms = [np.asarray(l)[:, :2] * [sx, sy] for l in faces_landmarks]
        return mesh_matte((h, w), lms)

    def _matte_from_model(self, rgb: np.ndarray) -> np.ndarray:
        m = self._model
        for name in ("matte", "segment", "__call__"):
            fn = getattr(m, name, None)
            if fn is not None:
                out = fn(rgb)
                out = getattr(out, "alpha", out)
                out = np.asarray(out, np.float32)
                if out.ndim == 3:
                    out = out[..., 0]
                if out.max() > 1.5:
                    out = out / 255.0
                return out
        raise TypeError("matting model has no matte()/segment()")

    def close(self) -> None:
        if self._model is not None and hasattr(self._model, "close"):
            self._model.close()
        self._model = None


def soft_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-like blur of standard deviation ``sigma`` px; O(1) per pixel (stack blur) for wide kernels."""
    if sigma < 3.0:
        return cv2.GaussianBlur(x, (0, 0), sigma)
    k = int(2.5 * sigma) * 2 + 1
    return cv2.stackBlur(x, (k, k))


def proxy_normals(matte: np.ndarray, scale: float) -> np.ndarray:
    """View-frame normals (H, W, 3) of the matte's silhouette "inflated" into a soft relief.

    ``scale``: blur radius in pixels (about a quarter of a face width).
    """
    d = soft_blur(matte.astype(np.float32), max(scale, 1.0))
    gx = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    k = 1.5 * scale
    # surface height ~ d: the normal tilts away from the silhouette's inside; image y is down
    n = np.stack([-gx * k, gy * k, np.ones_like(d)], axis=-1)
    return n / np.sqrt(np.einsum("...i,...i->...", n, n))[..., None]

"""Alpha compositing of rendered RGBA layers over photos."""

from __future__ import annotations

import numpy as np


def alpha_over(dst_rgb: np.ndarray, src_rgba: np.ndarray, x0: int = 0, y0: int = 0, *, premultiplied: bool = True,
               opacity: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Composite ``src_rgba`` (h, w, 4) uint8 over ``dst_rgb`` (H, W, 3) uint8 with its
    top-left corner at pixel (x0, y0); parts outside ``dst`` are clipped.

    ``premultiplied``: whether src colour is already multiplied by alpha (the
    renderer's output is). Returns a new array unless ``out`` is given
    (``out`` may be ``dst_rgb`` itself).
    """
    H, W = dst_rgb.shape[:2]
    h, w = src_rgba.shape[:2]
    res = dst_rgb.copy() if out is None else out
    if out is not None and out is not dst_rgb:
        res[...] = dst_rgb
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xa >= xb or ya >= yb:
        return res
    s = src_rgba[ya - y0:yb - y0, xa - x0:xb - x0]
    if premultiplied and opacity == 1.0:
        # integer fast path: out = src + dst * (255 - a) / 255 (OpenCV: rounded, saturated, SIMD;
        # channels split and merged by OpenCV, the destination region written in place)
        import cv2

        s = np.ascontiguousarray(s) if not s.flags.c_contiguous else s
        inv = cv2.bitwise_not(cv2.extractChannel(s, 3))
        d = res[ya:yb, xa:xb]
        if not d.flags.c_contiguous and d.strides[1:] != (3, 1):
            d = np.ascontiguousarray(d)
        blended = cv2.add(cv2.multiply(d, cv2.merge([inv, inv, inv]), scale=1.0 / 255.0), cv2.cvtColor(s, cv2.COLOR_RGBA2RGB))
        res[ya:yb, xa:xb] = blended
        return res
    s = s.astype(np.float32)
    a = s[..., 3:4] * (opacity / 255.0)
    col = s[..., :3] * opacity if premultiplied else s[..., :3] * a
    d = res[ya:yb, xa:xb].astype(np.float32)
    res[ya:yb, xa:xb] = np.clip(col + d * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    return res


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA uint8 -> straight RGBA uint8 (for PNG/WebM output)."""
    a = rgba[..., 3:4].astype(np.float32)
    rgb = np.where(a > 0, rgba[..., :3].astype(np.float32) * 255.0 / np.maximum(a, 1.0), 0.0)
    return np.concatenate([np.clip(rgb + 0.5, 0, 255).astype(np.uint8), rgba[..., 3:4]], axis=-1)


def over_color(rgba: np.ndarray, color=(0, 177, 64)) -> np.ndarray:
    """Flatten premultiplied RGBA over a solid colour (e.g. green screen)."""
    bg = np.empty(rgba.shape[:2] + (3,), np.uint8)
    bg[...] = np.asarray(color, np.uint8)
    return alpha_over(bg, rgba)


def feather(alpha: np.ndarray, radius: float) -> np.ndarray:
    """Soften an alpha mask (H, W) float32 with a Gaussian of ``radius`` pixels."""
    import cv2

    if radius <= 0:
        return alpha
    k = int(radius * 3) | 1
    return cv2.GaussianBlur(alpha, (k, k), radius)


def backdrop(h: int, w: int) -> np.ndarray:
    """A soft studio-grey vertical gradient (side-by-side background)."""
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([226, 230, 238], np.float32), np.array([160, 168, 182], np.float32)
    g = top * (1 - y) + bottom * y
    return np.broadcast_to(g, (h, w, 3)).astype(np.uint8)

"""Input normalisation shared by the matting models."""

from __future__ import annotations

import numpy as np

from faceplay.errors import InputError
from faceplay.media.frame import Frame


def as_rgb(image: Frame | np.ndarray) -> tuple[np.ndarray, Frame | None]:
    """(RGB uint8 array, the Frame if one was given) from a Frame or an (H, W, 3|4) array."""
    if isinstance(image, Frame):
        return image.rgb, image
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 2:
        raise InputError(f"expected an RGB image of shape (H, W, 3), got {arr.shape}; pass a decoded colour image")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr), None

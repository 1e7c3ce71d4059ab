"""A decoded frame with shared, cached pre-processing.

Every model that needs the frame in another colour space or an aligned face
crop asks the :class:`Frame`; the conversion happens once per frame and is
reused by every model (fused pre-processing).
"""

from __future__ import annotations

from typing import Callable, Hashable

import cv2
import numpy as np


class Frame:
    """An RGB uint8 image (H, W, 3) plus a per-frame cache of derived arrays."""

    __slots__ = ("rgb", "index", "timestamp", "_cache")

    def __init__(self, rgb: np.ndarray, index: int = 0, timestamp: float = 0.0) -> None:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("Frame needs an RGB uint8 array of shape (H, W, 3)")
        self.rgb = rgb
        self.index = index
        self.timestamp = timestamp
        self._cache: dict[Hashable, np.ndarray] = {}

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    def cached(self, key: Hashable, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Return ``cache[key]``, computing it with ``make()`` the first time."""
        v = self._cache.get(key)
        if v is None:
            v = make()
            self._cache[key] = v
        return v

    def get(self, key: Hashable):
        """``cache[key]`` if something put it there (e.g. an effect's :meth:`prepare`), else None."""
        return self._cache.get(key)

    def put(self, key: Hashable, value) -> None:
        """Store a derived value for later stages of this frame."""
        self._cache[key] = value

    @property
    def bgr(self) -> np.ndarray:
        return self.cached("bgr", lambda: cv2.cvtColor(self.rgb, cv2.COLOR_RGB2BGR))

    @property
    def gray(self) -> np.ndarray:
        return self.cached("gray", lambda: cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY))


def as_frame(image) -> Frame:
    """The one image coercer: a path, an image array or a :class:`Frame` → :class:`Frame`.

    Arrays may be grey (H, W), RGB or RGBA (alpha dropped), uint8, or float in
    0..1 (scaled to 0..255); anything else is an :class:`~faceplay.errors.InputError`
    that says what to pass.
    """
    from pathlib import Path

    from faceplay.errors import InputError

    if isinstance(image, Frame):
        return image
    if isinstance(image, (str, Path)):
        from faceplay.media.image import read_image

        return Frame(read_image(image))
    if not isinstance(image, np.ndarray):
        raise InputError(f"cannot read an image from {type(image).__name__}; give a path or an RGB uint8 array")
    arr = image
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 2:
        raise InputError(f"expected an RGB image array of shape (H, W, 3), got {arr.shape}; pass a decoded colour image")
    arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return Frame(np.ascontiguousarray(arr))

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

    @property
    def bgr(self) -> np.ndarray:
        return self.cached("bgr", lambda: cv2.cvtColor(self.rgb, cv2.COLOR_RGB2BGR))

    @property
    def gray(self) -> np.ndarray:
        return self.cached("gray", lambda: cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY))

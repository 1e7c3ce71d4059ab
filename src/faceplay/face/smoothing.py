"""One-Euro filtering of landmarks, blendshapes and pose in video.

The One-Euro filter (Casiez et al., CHI 2012) is a low-pass filter whose cut-off
rises with speed: still faces are smoothed strongly (no jitter), fast motion
passes with little lag. Vectorised over all coordinates of a face.
"""

from __future__ import annotations

import math

import numpy as np


class OneEuro:
    """One-Euro filter over an array of any shape (all elements filtered independently)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` seconds."""
        x = np.asarray(x, dtype=np.float32)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x
        dt = t - self._t
        self._t = t
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1.0 - a) * self._x
        return self._x.astype(np.float32, copy=True)


class FaceSmoother:
    """Smooths one track's landmarks, blendshapes and pose.

    Landmark speeds are in pixels per second, so ``beta`` is scaled by the face
    size (inter-ocular distance) to behave the same for small and large faces.
    """

    def __init__(self, *, min_cutoff: float = 1.0, beta: float = 2.0, blend_cutoff: float = 4.0) -> None:
        self.landmarks = OneEuro(min_cutoff=min_cutoff, beta=beta)
        self.blendshapes = OneEuro(min_cutoff=blend_cutoff, beta=2.0)
        self.pose = OneEuro(min_cutoff=min_cutoff, beta=beta)
        self._beta = beta

    def reset(self) -> None:
        self.landmarks.reset()
        self.blendshapes.reset()
        self.pose.reset()

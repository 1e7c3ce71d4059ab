"""From a tracked :class:`~faceplay.face.types.Face` to avatar weights and pose.

Per face (track): neutral calibration (a resting face gives a resting avatar),
per-group exaggeration gains, and temporal smoothing of the weights and the
head pose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceplay.errors import ConfigError
from faceplay.face.types import BLENDSHAPE_NAMES, Face

#: Expression groups that can be exaggerated separately (``--gain mouth=1.5``).
GROUPS: dict[str, tuple[str, ...]] = {
    "eyes": tuple(n for n in BLENDSHAPE_NAMES if n.startswith("eye")),
    "brows": tuple(n for n in BLENDSHAPE_NAMES if n.startswith("brow")),
    "mouth": tuple(n for n in BLENDSHAPE_NAMES if n.startswith("mouth")),
    "jaw": tuple(n for n in BLENDSHAPE_NAMES if n.startswith("jaw")),
    "cheeks": tuple(n for n in BLENDSHAPE_NAMES if n.startswith("cheek")),
    "nose": tuple(n for n in BLENDSHAPE_NAMES if n.startswith("nose")),
    "tongue": ("tongueOut",),
}
_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}

#: Typical resting values of MediaPipe's blendshapes on a neutral face (subtracted
#: before the first frames refine them per person). Gaze shapes are not calibrated.
DEFAULT_NEUTRAL: dict[str, float] = {
    "browDownLeft": 0.05, "browDownRight": 0.05, "browInnerUp": 0.08, "eyeBlinkLeft": 0.12, "eyeBlinkRight": 0.12,
    "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2, "mouthClose": 0.02, "mouthPressLeft": 0.08, "mouthPressRight": 0.08,
    "mouthShrugLower": 0.1, "mouthShrugUpper": 0.05, "mouthRollLower": 0.05, "mouthSmileLeft": 0.02,
    "mouthSmileRight": 0.02, "mouthStretchLeft": 0.03, "mouthStretchRight": 0.03, "jawOpen": 0.02,
    "cheekSquintLeft": 0.01, "cheekSquintRight": 0.01, "mouthDimpleLeft": 0.02, "mouthDimpleRight": 0.02,
    "mouthLowerDownLeft": 0.02, "mouthLowerDownRight": 0.02, "mouthUpperUpLeft": 0.02, "mouthUpperUpRight": 0.02,
}
_NO_CALIBRATION = {n for n in BLENDSHAPE_NAMES if n.startswith("eyeLook")} | {"tongueOut", "jawLeft", "jawRight"}
#: Shapes MediaPipe reports weakly that read better on a cartoon when boosted.
DEFAULT_BOOST: dict[str, float] = {"eyeBlinkLeft": 1.25, "eyeBlinkRight": 1.25, "jawOpen": 1.3, "mouthSmileLeft": 1.2,
                                   "mouthSmileRight": 1.2, "browInnerUp": 1.2}


def _quat_matrix(q) -> np.ndarray:
    x, y, z, w = (float(v) for v in q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def parse_gains(items) -> dict[str, float]:
    """``["mouth=1.5", "eyes=0.8"]`` or a dict -> {group or ARKit name: gain}."""
    if isinstance(items, dict):
        out = dict(items)
    else:
        out = {}
        for it in items or ():
            if "=" not in it:
                raise ConfigError(f"bad gain {it!r}; write GROUP=FACTOR, e.g. mouth=1.5 (groups: {', '.join(GROUPS)})")
            k, v = it.split("=", 1)
            try:
                out[k.strip()] = float(v)
            except ValueError:
                raise ConfigError(f"bad gain factor in {it!r}; use a number like 1.5") from None
    for k, v in out.items():
        if k not in GROUPS and k not in _INDEX:
            raise ConfigError(f"unknown gain group {k!r}; choose from {', '.join(GROUPS)} or an ARKit blendshape name")
        if not 0 <= v <= 5:
            raise ConfigError(f"gain {k}={v} is out of range; use 0..5")
    return out


def gain_vector(gains: dict[str, float] | None) -> np.ndarray:
    """(52,) multiplicative gains from group/name gains (defaults boost a few weak shapes)."""
    g = np.ones(len(BLENDSHAPE_NAMES), np.float32)
    for k, v in DEFAULT_BOOST.items():
        g[_INDEX[k]] = v
    for k, v in (gains or {}).items():
        for n in GROUPS.get(k, (k,)):
            g[_INDEX[n]] *= v
    return g


@dataclass
class DriverSettings:
    """How faces drive avatars.

    ``smoothing`` 0 (raw) .. 0.95 (very smooth) is the weight of the previous
    frame in an exponential moving average; ``calibrate`` subtracts the
    person's resting expression (learnt from the lowest values seen, starting
    from :data:`DEFAULT_NEUTRAL`); ``gains`` exaggerate groups. A calibration
    profile (:meth:`faceplay.creator.profile.Profile.driver_settings`) sets
    ``neutral`` (the measured resting values, used as they are instead of the
    learnt ones) and ``curve`` (per-blendshape response exponents).
    """

    smoothing: float = 0.35
    pose_smoothing: float = 0.2
    calibrate: bool = True
    gains: dict[str, float] = field(default_factory=dict)
    adapt: float = 0.004  #: how fast the learnt neutral may rise per frame (it drops at once)
    neutral: dict[str, float] | None = None  #: fixed resting values per ARKit name (no learning)
    curve: dict[str, float] | None = None  #: response exponent per ARKit name (1 = linear)
    head_neutral: tuple[float, float, float, float] | None = None  #: resting head rotation (x, y, z, w) of a profile


class FaceDriver:
    """Stateful per-track mapping from faces to (weights, model matrix)."""

    def __init__(self, settings: DriverSettings | None = None) -> None:
        self.s = settings or DriverSettings()
        self.gain = gain_vector(self.s.gains)
        self.neutral = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
        for k, v in (DEFAULT_NEUTRAL if self.s.neutral is None else self.s.neutral).items():
            self.neutral[_INDEX[k]] = v
        self._fixed_neutral = self.s.neutral is not None
        self.curve = np.ones(len(BLENDSHAPE_NAMES), np.float32)
        for k, v in (self.s.curve or {}).items():
            self.curve[_INDEX[k]] = v
        self._calib_mask = np.array([n not in _NO_CALIBRATION for n in BLENDSHAPE_NAMES])
        self._w: np.ndarray | None = None
        self._m: np.ndarray | None = None

    def calibrate_from(self, face: Face) -> None:
        """Take ``face`` as this person's resting expression (an explicit calibration frame)."""
        raw = self.raw(face)
        self.neutral = np.where(self._calib_mask, np.minimum(raw, 0.9), 0.0).astype(np.float32)

    @staticmethod
    def raw(face: Face) -> np.ndarray:
        return np.array([float(face.blendshapes.get(n, 0.0)) for n in BLENDSHAPE_NAMES], np.float32)

    def weights(self, face: Face, *, temporal: bool = True) -> np.ndarray:
        """(52,) calibrated, gained, smoothed weights in 0..1 for this frame."""
        raw = self.raw(face)
        if self.s.calibrate:
            if temporal and not self._fixed_neutral:
                self.neutral = np.where(self._calib_mask, np.minimum(np.minimum(raw, 0.5), self.neutral + self.s.adapt),
                                        0.0).astype(np.float32)
            n = np.where(self._calib_mask, self.neutral, 0.0)
            w = np.clip((raw - n) / np.maximum(1.0 - n, 1e-3), 0.0, 1.0)
        else:
            w = raw
        w = np.clip(np.clip(w, 0.0, 1.0) ** self.curve * self.gain, 0.0, 1.0)
        if temporal and self._w is not None and self.s.smoothing > 0:
            w = self.s.smoothing * self._w + (1.0 - self.s.smoothing) * w
        if temporal:
            self._w = w
        return w.astype(np.float32)

    def pose(self, face: Face, *, temporal: bool = True, neutral_head: bool = False) -> np.ndarray:
        """Smoothed 4x4 model matrix (canonical face space -> camera space).

        ``neutral_head`` removes the profile's resting head rotation (for an avatar
        that is not drawn over the real head: side by side, avatar only).
        """
        m = np.asarray(face.pose.matrix, np.float64)
        if neutral_head and self.s.head_neutral is not None:
            m = m.copy()
            m[:3, :3] = _quat_matrix(self.s.head_neutral).T @ m[:3, :3]
        if temporal and self._m is not None and self.s.pose_smoothing > 0:
            a = self.s.pose_smoothing
            mm = a * self._m + (1 - a) * m
            u, sv, vt = np.linalg.svd(mm[:3, :3])  # back to a rotation (times the mean scale)
            mm[:3, :3] = (u @ vt) * sv.mean()
            m = mm
        if temporal:
            self._m = m
        return m.astype(np.float32)

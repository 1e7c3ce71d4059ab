"""Face analysis: detection, landmarks, blendshapes, pose, identity, attributes, tracking."""

from faceplay.face.analyzer import FaceAnalyzer, Verification
from faceplay.face.track import FaceTracker
from faceplay.face.types import BLENDSHAPE_NAMES, EXPRESSIONS, FACE_SHAPES, FIELDS, Blendshape, Face, FrameResult, Pose, Quality, RunningMode, SkinTone

__all__ = [
    "BLENDSHAPE_NAMES",
    "Blendshape",
    "EXPRESSIONS",
    "FACE_SHAPES",
    "FIELDS",
    "Face",
    "FaceAnalyzer",
    "FaceTracker",
    "FrameResult",
    "Pose",
    "Quality",
    "RunningMode",
    "SkinTone",
    "Verification",
]

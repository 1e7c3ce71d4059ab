"""faceplay: AI face effects, offline, on a CPU.

The public API (imported lazily: ``import faceplay`` loads no model)::

    from faceplay import FaceAnalyzer, Face
    with FaceAnalyzer() as fa:
        faces = fa.analyze("photo.jpg", fields="all")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "FaceAnalyzer": "faceplay.face.analyzer",
    "Verification": "faceplay.face.analyzer",
    "FaceTracker": "faceplay.face.track",
    "Face": "faceplay.face.types",
    "FrameResult": "faceplay.face.types",
    "Pose": "faceplay.face.types",
    "SkinTone": "faceplay.face.types",
    "Quality": "faceplay.face.types",
    "Blendshape": "faceplay.face.types",
    "BLENDSHAPE_NAMES": "faceplay.face.types",
    "Frame": "faceplay.media.frame",
    "read_image": "faceplay.media.image",
    "write_image": "faceplay.media.image",
    "VideoReader": "faceplay.media.video",
    "VideoWriter": "faceplay.media.video",
    "FaceplayError": "faceplay.errors",
    # effects
    "AvatarEffect": "faceplay.avatar.effect",
    "Relighter": "faceplay.relight.relighter",
    "relight_image": "faceplay.relight.api",
    "relight_video": "faceplay.relight.api",
    "open_gallery": "faceplay.lookalike",
    "LookalikeSearch": "faceplay.lookalike.search",
    "transcribe": "faceplay.speech.transcribe",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from faceplay.avatar.effect import AvatarEffect
    from faceplay.errors import FaceplayError
    from faceplay.lookalike import open_gallery
    from faceplay.lookalike.search import LookalikeSearch
    from faceplay.relight.api import relight_image, relight_video
    from faceplay.relight.relighter import Relighter
    from faceplay.speech.transcribe import transcribe
    from faceplay.face.analyzer import FaceAnalyzer, Verification
    from faceplay.face.track import FaceTracker
    from faceplay.face.types import BLENDSHAPE_NAMES, Blendshape, Face, FrameResult, Pose, Quality, SkinTone
    from faceplay.media.frame import Frame
    from faceplay.media.image import read_image, write_image
    from faceplay.media.video import VideoReader, VideoWriter


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'faceplay' has no attribute {name!r}")

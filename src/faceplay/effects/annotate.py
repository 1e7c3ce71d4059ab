"""Analysis-only output as an effect: each face's box, landmarks, pose axes and attributes drawn."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from faceplay.effects.base import Effect, EffectState
from faceplay.face.types import Face
from faceplay.media.frame import Frame


class AnnotateEffect(Effect):
    """Draw the analysis of every face (``faceplay analyze -o``); ``fields`` are computed on every frame."""

    name = "annotate"
    fields_per_track = False  # expressions and the like change from frame to frame
    max_faces = 10

    def __init__(self, fields: Sequence[str] = (), *, landmarks: bool = True, labels: bool = True,
                 max_faces: int = 10) -> None:
        from faceplay.face.analyzer import normalize_fields

        self.fields = normalize_fields(list(fields))
        self.landmarks, self.labels = landmarks, labels
        self.max_faces = max_faces

    def apply(self, frame: Frame, faces: Sequence[Face], state: EffectState) -> np.ndarray:
        from faceplay.face.annotate import annotate

        return annotate(frame.rgb, list(faces), landmarks=self.landmarks, labels=self.labels)

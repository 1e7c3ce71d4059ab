"""One tracked frame as creator tools want it: 52 weights, head rotation and translation, gaze.

:class:`SampleMaker` follows one person (the track seen first, or the largest
face when it is lost), applies a :class:`~faceplay.creator.profile.Profile`
and holds the last values on frames without a face (``tracked`` is then
False), so every output gets exactly one sample per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceplay.creator.arkit import gaze, matrix_to_quat
from faceplay.creator.profile import Profile, Shaper
from faceplay.face.pose import euler_from_matrix
from faceplay.face.types import BLENDSHAPE_NAMES, Face


@dataclass
class Sample:
    """The state of the tracked face at one frame."""

    index: int  #: frame number from 0
    time: float  #: seconds from the start of the input
    tracked: bool  #: a face was found in this frame (else the values are held from the last one)
    weights: np.ndarray  #: (52,) float32 0..1, MediaPipe / :data:`BLENDSHAPE_NAMES` order
    rotation: np.ndarray  #: (3, 3) head rotation, canonical face space -> camera space (OpenGL axes)
    translation: np.ndarray  #: (3,) head position in camera space, centimetres

    @property
    def quat(self) -> np.ndarray:
        """Head rotation as an (x, y, z, w) quaternion."""
        return matrix_to_quat(self.rotation)

    @property
    def angles(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees (signs of :func:`faceplay.face.pose.euler_from_matrix`)."""
        return euler_from_matrix(self.rotation)

    def to_dict(self) -> dict:
        """The ``faceplay track --json`` line."""
        yaw, pitch, roll = self.angles
        return {
            "frame": self.index, "timestamp": round(self.time, 4), "tracked": self.tracked,
            "blendshapes": {n: round(float(v), 4) for n, v in zip(BLENDSHAPE_NAMES, self.weights)},
            "head": {"yaw": round(yaw, 3), "pitch": round(pitch, 3), "roll": round(roll, 3),
                     "rotation": [round(float(v), 6) for v in self.quat],
                     "translation": [round(float(v), 3) for v in self.translation]},
            "gaze": gaze(self.weights),
        }


def raw_weights(face: Face) -> np.ndarray:
    """(52,) float32 blendshapes of a face in :data:`BLENDSHAPE_NAMES` order."""
    return np.array([float(face.blendshapes.get(n, 0.0)) for n in BLENDSHAPE_NAMES], np.float32)


class SampleMaker:
    """Faces of successive frames -> one :class:`Sample` per frame."""

    def __init__(self, profile: Profile | None = None) -> None:
        self.shaper = Shaper(profile)
        self.track_id: int | None = None
        self._last: Sample | None = None

    def pick(self, faces: list[Face]) -> Face | None:
        """The face to follow: the current track if present, else the largest face."""
        if not faces:
            return None
        for f in faces:
            if self.track_id is not None and f.track_id == self.track_id:
                return f
        f = max(faces, key=lambda f: f.box[2] * f.box[3])
        self.track_id = f.track_id
        return f

    def __call__(self, index: int, time: float, faces: list[Face]) -> Sample:
        """The sample of frame ``index`` at ``time`` seconds."""
        face = self.pick(faces)
        if face is None:
            if self._last is None:
                s = Sample(index, time, False, np.zeros(len(BLENDSHAPE_NAMES), np.float32), np.eye(3),
                           np.array([0.0, 0.0, -50.0]))
            else:
                s = Sample(index, time, False, self._last.weights, self._last.rotation, self._last.translation)
        else:
            m = np.asarray(face.pose.matrix, np.float64)
            u, _, vt = np.linalg.svd(m[:3, :3])  # the rotation without MediaPipe's scale
            s = Sample(index, time, True, self.shaper.weights(raw_weights(face)), self.shaper.rotation(u @ vt),
                       m[:3, 3].copy())
        self._last = s
        return s

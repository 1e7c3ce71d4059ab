"""Video face tracking: stable track ids and smoothing over MediaPipe's VIDEO mode.

:class:`FaceTracker` is the streaming API: feed frames in order, get the faces
of each frame with ``track_id`` set and landmarks, blendshapes and pose
smoothed by One-Euro filters. The detector runs only when tracking is lost;
ids are kept across short dropouts by box overlap.

Two backends give the same :class:`Face`: ``"litert"`` runs the task bundle's
models directly (:mod:`faceplay.face.litert_landmarker`, the ``fast`` extra,
faster), ``"mediapipe"`` runs MediaPipe's FaceLandmarker graph. ``"auto"``
(the default) takes LiteRT when it is installed; ``FACEPLAY_TRACKER`` overrides
the default.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from faceplay.face.landmarker import Landmarker
from faceplay.face.pose import euler_from_matrix
from faceplay.face.smoothing import FaceSmoother
from faceplay.face.types import BLENDSHAPE_NAMES, Face, RunningMode, landmark_box

log = logging.getLogger(__name__)


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


BACKENDS = ("auto", "litert", "mediapipe")


def resolve_backend(backend: str = "auto") -> str:
    """The tracker backend to use: ``"litert"`` or ``"mediapipe"`` (``"auto"``: ``FACEPLAY_TRACKER``, else LiteRT if installed)."""
    if backend == "auto":
        backend = os.environ.get("FACEPLAY_TRACKER", "auto").strip().lower() or "auto"
    if backend not in BACKENDS:
        from faceplay.errors import ConfigError

        raise ConfigError(f"unknown tracker backend {backend!r}: use one of {', '.join(BACKENDS)} (FACEPLAY_TRACKER)")
    if backend == "auto":
        from faceplay.face.litert_landmarker import available

        return "litert" if available() else "mediapipe"
    if backend == "litert":
        from faceplay.face.litert_landmarker import available

        if not available():
            from faceplay.errors import ConfigError

            raise ConfigError("the litert tracker needs ai-edge-litert: pip install 'faceplay[fast]' (or use the mediapipe tracker)")
    return backend


@dataclass
class _Track:
    id: int
    box: tuple[float, float, float, float]
    smoother: FaceSmoother = field(default_factory=FaceSmoother)
    last_seen: int = 0
    quat: np.ndarray | None = None
    age_frames: int = 0


class FaceTracker:
    """Track faces across an ordered stream of frames.

    >>> with FaceTracker() as tracker:
    ...     for frame in VideoReader("clip.mp4"):
    ...         faces = tracker.update(frame.rgb, frame.timestamp)

    ``smoothing=False`` returns MediaPipe's raw per-frame output (ids still set).
    """

    def __init__(
        self,
        *,
        max_faces: int = 5,
        min_detection_confidence: float = 0.5,
        smoothing: bool = True,
        max_lost_frames: int = 15,
        iou_threshold: float = 0.25,
        backend: str = "auto",
    ) -> None:
        self.backend = resolve_backend(backend)
        if self.backend == "litert":
            from faceplay.face.litert_landmarker import LiteRtLandmarker

            self._lm = LiteRtLandmarker(max_faces=max_faces, min_detection_confidence=min_detection_confidence)
        else:
            self._lm = Landmarker(RunningMode.VIDEO, max_faces=max_faces, min_detection_confidence=min_detection_confidence)
        self.smoothing = smoothing
        self.max_lost_frames = max_lost_frames
        self.iou_threshold = iou_threshold
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frame_no = 0

    def warm_up(self, width: int, height: int) -> None:
        """Pay the detector's set-up for frames of this size now, not in the stream's first frame."""
        if hasattr(self._lm, "warm_up"):
            self._lm.warm_up(width, height)

    def update(self, rgb: np.ndarray, timestamp: float) -> list[Face]:
        """Faces of the next frame (``timestamp`` in seconds, increasing)."""
        faces = self._dedupe(self._lm.detect(rgb, int(round(timestamp * 1000))))
        self._assign_ids(faces)
        if self.smoothing:
            for f in faces:
                self._smooth(f, timestamp)
        self._frame_no += 1
        self._tracks = [t for t in self._tracks if self._frame_no - t.last_seen <= self.max_lost_frames]
        return faces

    # -- ids -------------------------------------------------------------
    def _dedupe(self, faces: list[Face]) -> list[Face]:
        """Drop duplicate detections of one face (MediaPipe can re-detect a tracked face).

        Faces that continue an existing track are kept first, so a duplicate
        never steals or spawns an id.
        """
        if len(faces) < 2:
            return faces

        def continuity(f: Face) -> float:
            return max((iou(f.box, t.box) for t in self._tracks), default=0.0)

        kept: list[Face] = []
        for f in sorted(faces, key=continuity, reverse=True):
            if all(iou(f.box, k.box) <= 0.4 for k in kept):
                kept.append(f)
        return kept

    def _assign_ids(self, faces: list[Face]) -> None:
        pairs = []
        for i, f in enumerate(faces):
            for j, t in enumerate(self._tracks):
                s = iou(f.box, t.box)
                if s >= self.iou_threshold:
                    pairs.append((s, i, j))
        pairs.sort(reverse=True)
        used_f: set[int] = set()
        used_t: set[int] = set()
        for _, i, j in pairs:
            if i in used_f or j in used_t:
                continue
            used_f.add(i)
            used_t.add(j)
            t = self._tracks[j]
            faces[i].track_id = t.id
            if self._frame_no - t.last_seen > 1:
                t.smoother.reset()  # after a dropout, do not blend with stale state
            t.box, t.last_seen = faces[i].box, self._frame_no
        for i, f in enumerate(faces):
            if i not in used_f:
                t = _Track(id=self._next_id, box=f.box, last_seen=self._frame_no)
                self._next_id += 1
                self._tracks.append(t)
                f.track_id = t.id

    def _track(self, track_id: int) -> _Track:
        return next(t for t in self._tracks if t.id == track_id)

    # -- smoothing -------------------------------------------------------
    def _smooth(self, f: Face, ts: float) -> None:
        t = self._track(f.track_id)
        sm = t.smoother
        scale = max(f.eye_distance, 4.0)
        # speeds in face-size units: the same filter works for small and large faces
        sm.landmarks.beta = sm._beta / scale
        f.landmarks = sm.landmarks(f.landmarks, ts)
        b = sm.blendshapes(np.array([f.blendshapes[n] for n in BLENDSHAPE_NAMES], dtype=np.float32), ts)
        f.blendshapes = dict(zip(BLENDSHAPE_NAMES, np.clip(b, 0.0, 1.0).tolist()))
        m = f.pose.matrix
        q = Rotation.from_matrix(m[:3, :3].astype(np.float64)).as_quat()
        if t.quat is not None and float(np.dot(q, t.quat)) < 0:
            q = -q  # keep the quaternion on one hemisphere so filtering is continuous
        sm.pose.beta = sm._beta / 10.0
        v = sm.pose(np.r_[q * 10.0, m[:3, 3]].astype(np.float32), ts)
        q = v[:4] / max(np.linalg.norm(v[:4]), 1e-9)
        t.quat = q
        out = np.eye(4, dtype=np.float32)
        out[:3, :3] = Rotation.from_quat(q).as_matrix()
        out[:3, 3] = v[4:]
        f.pose.matrix = out
        f.pose.yaw, f.pose.pitch, f.pose.roll = euler_from_matrix(out)
        f.box = landmark_box(f.landmarks)

    def reset(self) -> None:
        """Forget all tracks (e.g. at a scene cut or a new stream)."""
        self._tracks.clear()
        if hasattr(self._lm, "reset"):
            self._lm.reset()

    def close(self) -> None:
        self._lm.close()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

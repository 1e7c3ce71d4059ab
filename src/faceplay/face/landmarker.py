"""MediaPipe Tasks FaceLandmarker → :class:`Face` objects.

One class per running mode: :class:`Landmarker` wraps a single MediaPipe
landmarker (IMAGE or VIDEO mode). In VIDEO mode MediaPipe runs its face
detector only when it has lost a face and otherwise tracks landmarks from the
previous frame, which is what makes video cheap.
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref

import numpy as np

from faceplay import models
from faceplay.face.pose import euler_from_matrix
from faceplay.face.types import BLENDSHAPE_NAMES, Face, Pose, RunningMode, landmark_box
from faceplay.native import quiet_stderr

log = logging.getLogger(__name__)

_live: "weakref.WeakSet[Landmarker]" = weakref.WeakSet()
#: MediaPipe graphs whose Landmarker was garbage-collected without close(). They
#: are closed at interpreter exit, never from the garbage collector:
#: MediaPipe's close() waits on its dispatcher thread and can deadlock when a
#: collection runs inside another thread.
_orphans: list = []
#: A closed MediaPipe graph must not be finalised either: its ``close`` goes through
#: MediaPipe's serial dispatcher even when the handle is gone, and a collection in
#: another thread then waits on the closed dispatcher for ever (seen in the web load
#: test). So a closed graph's class is swapped for one whose ``__del__`` does nothing
#: (:func:`_inert`) and the graph is freed at once; where that is impossible it is
#: kept referenced until exit, as before.
_closed_kept: list = []
_inert_classes: dict[type, type] = {}


def _inert(lm) -> None:
    """Make a closed MediaPipe task safe to garbage-collect from any thread."""
    cls = type(lm)
    inert = _inert_classes.get(cls)
    if inert is None:
        inert = _inert_classes[cls] = type(f"Closed{cls.__name__}", (cls,), {"__slots__": (), "__del__": lambda self: None})
    try:
        lm.__class__ = inert
    except TypeError:  # incompatible layout: never let the collector finalise it
        _closed_kept.append(lm)


def _close_orphans() -> None:
    pending = _orphans[:]
    del _orphans[: len(pending)]
    for lm in pending:
        try:
            lm.close()
            _inert(lm)
        except Exception as exc:  # noqa: BLE001 - best effort clean-up
            log.debug("closing an orphaned landmarker failed: %s", exc)


def guard_mediapipe_finaliser(cls) -> None:
    """Replace MediaPipe's ``__del__`` on ``cls`` (e.g. ``vision.FaceLandmarker``) so the garbage
    collector never calls into MediaPipe: a closed task is simply freed, an open one is kept
    (resurrected into the orphan list) and closed explicitly later. MediaPipe's own finaliser
    calls ``close()``, which waits on the task's serial dispatcher and deadlocks when the
    collection runs inside another thread (seen in the web tests), whatever created the task."""
    if getattr(cls, "_faceplay_guarded", False):
        return

    def __del__(self) -> None:
        if getattr(self, "_handle", None):
            _orphans.append(self)

    cls.__del__ = __del__
    cls._faceplay_guarded = True


@atexit.register
def _close_all() -> None:
    """Close landmarkers left open: MediaPipe's own finaliser fails at interpreter exit."""
    for lm in list(_live):
        lm.close()
    _close_orphans()


class Landmarker:
    """Detection + 478 landmarks + 52 blendshapes + pose for one running mode."""

    def __init__(
        self,
        mode: RunningMode = RunningMode.IMAGE,
        *,
        max_faces: int = 5,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        from mediapipe.tasks.python import BaseOptions, vision

        guard_mediapipe_finaliser(vision.FaceLandmarker)

        self.mode = RunningMode(mode)
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(models.model_path("face_landmarker"))),
            running_mode=vision.RunningMode.VIDEO if self.mode is RunningMode.VIDEO else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        with quiet_stderr():
            self._lm = vision.FaceLandmarker.create_from_options(opts)
        self._warm = False
        self._last_ts = -1
        _live.add(self)

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> list[Face]:
        """Faces in one RGB uint8 image; VIDEO mode needs increasing ``timestamp_ms``."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if not self._warm:  # the first inference logs TFLite delegate messages
            with quiet_stderr():
                result = self._run(image, timestamp_ms)
            self._warm = True
        else:
            result = self._run(image, timestamp_ms)
        h, w = rgb.shape[:2]
        return [
            _to_face(lms, result.face_blendshapes[i] if result.face_blendshapes else None,
                     result.facial_transformation_matrixes[i] if result.facial_transformation_matrixes else None, w, h)
            for i, lms in enumerate(result.face_landmarks)
        ]

    def _run(self, image, timestamp_ms: int | None):
        if self.mode is RunningMode.VIDEO:
            ts = int(timestamp_ms if timestamp_ms is not None else self._last_ts + 33)
            ts = max(ts, self._last_ts + 1)  # MediaPipe requires strictly increasing timestamps
            self._last_ts = ts
            return self._lm.detect_for_video(image, ts)
        return self._lm.detect(image)

    def close(self) -> None:
        """Release the MediaPipe graph (always call it; its finaliser is unreliable at exit)."""
        if self._lm is not None:
            lm, self._lm = self._lm, None
            lm.close()
            _inert(lm)

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # Never close from the garbage collector (see _orphans): keep the graph
        # alive until the interpreter exits.
        lm = getattr(self, "_lm", None)
        if lm is not None:
            self._lm = None
            _orphans.append(lm)


def _to_face(lms, blend, matrix, w: int, h: int) -> Face:
    arr = np.array([(p.x, p.y, p.z) for p in lms], dtype=np.float32)
    arr[:, 0] *= w
    arr[:, 1] *= h
    arr[:, 2] *= w
    if blend:
        scores = {c.category_name: float(c.score) for c in blend if c.category_name != "_neutral"}
        shapes = {n: scores.get(n, 0.0) for n in BLENDSHAPE_NAMES}
    else:
        shapes = {n: 0.0 for n in BLENDSHAPE_NAMES}
    m = np.asarray(matrix, dtype=np.float32) if matrix is not None else np.eye(4, dtype=np.float32)
    yaw, pitch, roll = euler_from_matrix(m)
    presence = float(getattr(lms[0], "presence", None) or 1.0) if lms else 1.0
    return Face(
        box=landmark_box(arr),
        score=presence,
        landmarks=arr,
        blendshapes=shapes,
        pose=Pose(yaw=yaw, pitch=pitch, roll=roll, matrix=m),
    )

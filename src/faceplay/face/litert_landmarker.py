"""VIDEO-mode face landmarks without the MediaPipe graph: the task bundle's own
models run directly in LiteRT (``ai-edge-litert``, the ``fast`` extra).

MediaPipe's FaceLandmarker graph (``face_landmarker.task``) is three TFLite
models plus glue. For a tracked stream faceplay runs the same models itself:

1. **Region of interest.** From the previous frame's landmarks (MediaPipe's
   ``face_landmarks_to_roi``: axis-aligned box of the landmarks, rotated so the
   eye corners 33 -> 263 are level, square on the long side, x1.5). A face with
   no previous landmarks gets its region from a YuNet detection (the same
   detector faceplay uses for photos), refined by one more landmark pass.
   YuNet runs only while fewer than ``max_faces`` are tracked, and then at
   most every ``redetect_every`` frames, not on every frame.
2. **Landmarks.** ``face_landmarks_detector.tflite``: the rotated 256x256
   crop in [0, 1] -> 478 points in crop pixels and a face-presence logit; a
   face whose presence falls below ``min_tracking_confidence`` is lost.
3. **Blendshapes.** ``face_blendshapes.tflite``: the 146 landmarks of
   MediaPipe's ``kLandmarksSubsetIdxs`` in image pixels -> 52 scores.
4. **Pose.** MediaPipe's face geometry pipeline (perspective camera, 63
   degree vertical field of view; two-pass depth scale; weighted Procrustes
   against the canonical face model), so ``Face.pose.matrix`` lives in the
   same camera as the MediaPipe path's and renderers need no change.

The result is the same :class:`~faceplay.face.types.Face` as
:class:`~faceplay.face.landmarker.Landmarker` gives (the tests compare both on
real videos: landmarks, blendshapes, pose), with one interpreter thread and no
graph scheduling: a little faster per frame than MediaPipe's graph on a 2-core
Zen 4 (``faceplay bench relight`` times both in one run: tracking alone
9.1-10.6 ms against 10.5-11.0 ms), less memory (167 MB against 262 MB RSS), and
a second core left free for rendering. It also keeps small and dim faces that
MediaPipe's short-range detector misses, since YuNet finds them.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from faceplay import models
from faceplay.face.pose import NEAR, VERTICAL_FOV_DEG, euler_from_matrix
from faceplay.face.types import BLENDSHAPE_NAMES, Face, Pose, RunningMode, landmark_box

CROP = 256  #: landmark model input side
ROI_SCALE = 1.5  #: MediaPipe's region scale around the landmarks' box
EYE_START, EYE_END = 33, 263  #: the landmarks that set the region's rotation
#: MediaPipe's ``kLandmarksSubsetIdxs`` (face_blendshapes_graph.cc): the 146 landmarks the blendshape model reads
BLENDSHAPE_SUBSET = np.array([
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
    81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153,
    154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249,
    251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314,
    317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382,
    384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473,
    474, 475, 476, 477], dtype=np.int32)
DETECT_SIDE = 640  #: YuNet input: longest side of the frame for (re-)detection
MIN_ROI_PX = 8.0  #: a region smaller than this is no face (the crop would be all interpolation)
DETECTION_SCALE = 1.4  #: region side / YuNet box side (the landmark model loses a face drawn smaller than at ~1.8)


def available() -> bool:
    """True when ``ai-edge-litert`` is installed (``pip install faceplay[fast]``)."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Roi:
    """A rotated square region of the frame: centre and side in pixels, rotation in radians (clockwise)."""

    cx: float
    cy: float
    side: float
    angle: float

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        c, s = math.cos(self.angle), math.sin(self.angle)
        return np.array([c, s]), np.array([-s, c])

    def to_crop(self) -> np.ndarray:
        """The 2x3 affine map from frame pixels to crop pixels."""
        ex, ey = self.axes()
        k = CROP / self.side
        centre = np.array([self.cx, self.cy])
        return np.array([[*(k * ex), CROP / 2 - k * ex @ centre],
                         [*(k * ey), CROP / 2 - k * ey @ centre]], dtype=np.float64)

    def to_frame(self, pts: np.ndarray) -> np.ndarray:
        """Crop-space landmarks (N, 3) -> frame pixels (z scaled like x)."""
        ex, ey = self.axes()
        k = self.side / CROP
        u = (pts[:, 0:1] - CROP / 2) * k
        v = (pts[:, 1:2] - CROP / 2) * k
        out = np.empty_like(pts)
        out[:, :2] = np.array([self.cx, self.cy]) + u * ex + v * ey
        out[:, 2] = pts[:, 2] * k
        return out


def roi_from_landmarks(lm: np.ndarray) -> Roi:
    """MediaPipe's region for the next frame: the landmarks' box, levelled on the eyes, square, x1.5."""
    dx, dy = lm[EYE_END, 0] - lm[EYE_START, 0], lm[EYE_END, 1] - lm[EYE_START, 1]
    angle = -math.atan2(-dy, dx)
    x0, y0 = lm[:, 0].min(), lm[:, 1].min()
    x1, y1 = lm[:, 0].max(), lm[:, 1].max()
    return Roi(float(x0 + x1) / 2, float(y0 + y1) / 2, float(max(x1 - x0, y1 - y0)) * ROI_SCALE, angle)


def roi_from_detection(det: np.ndarray) -> Roi:
    """A region from one YuNet row (x, y, w, h, right eye, left eye, nose, mouth corners, score)."""
    x, y, w, h = (float(v) for v in det[:4])
    (rx, ry), (lx, ly) = det[4:6], det[6:8]
    angle = -math.atan2(-(float(ly) - float(ry)), float(lx) - float(rx))
    return Roi(x + w / 2, y + h / 2, max(w, h) * DETECTION_SCALE, angle)


# -- MediaPipe's face geometry pipeline -------------------------------------------------------------
def _weighted_orthogonal(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
    """4x4 similarity transform (scale * rotation, translation) taking ``src`` (3, N) onto ``dst`` (3, N)."""
    sw = np.sqrt(w)
    ws, wt = src * sw, dst * sw
    total = w.sum()
    centre = (src * w).sum(axis=1, keepdims=True) / total
    cws = ws - centre * sw
    u, _, vt = np.linalg.svd(wt @ cws.T)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        u[:, 2] *= -1
    rot = u @ vt
    scale = float(((rot @ cws) * wt).sum() / (cws * ws).sum())
    rs = scale * rot
    trans = ((wt - rs @ ws) * sw).sum(axis=1) / total
    out = np.eye(4)
    out[:3, :3] = rs
    out[:3, 3] = trans
    return out


@lru_cache(maxsize=1)
def _procrustes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from faceplay.geometry import canonical_mesh

    mesh = canonical_mesh()
    w = np.zeros(len(mesh.vertices))
    w[mesh.procrustes_ids] = mesh.procrustes_weights
    keep = w > 0
    return mesh.vertices.T.astype(np.float64)[:, keep], w[keep], np.flatnonzero(keep)


def pose_matrix(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe's facial transformation matrix (canonical face -> camera, cm) from landmarks in pixels."""
    canon, w, ids = _procrustes()
    h_near = 2.0 * NEAR * math.tan(0.5 * math.radians(VERTICAL_FOV_DEG))
    w_near = width * h_near / height
    pts = landmarks[ids].astype(np.float64).T.copy()  # (3, K), pixels
    # ProjectXY: normalised screen coordinates onto the near plane (y up); z like x
    screen = np.empty_like(pts)
    screen[0] = pts[0] / width * w_near - w_near / 2
    screen[1] = (1.0 - pts[1] / height) * h_near - h_near / 2
    screen[2] = pts[2] / width * w_near
    depth_offset = screen[2].mean()

    def metric(scale: float, unproject: bool) -> np.ndarray:
        m = screen.copy()
        m[2] = (m[2] - depth_offset + NEAR) / scale
        if unproject:
            m[0] = m[0] * m[2] / NEAR
            m[1] = m[1] * m[2] / NEAR
        m[2] *= -1
        return m

    def est_scale(m: np.ndarray) -> float:
        return float(np.linalg.norm(_weighted_orthogonal(canon, m, w)[:3, 0]))

    first = est_scale(metric(1.0, False))
    second = est_scale(metric(first, True))
    return _weighted_orthogonal(canon, metric(first * second, True), w).astype(np.float32)


# -- the models ------------------------------------------------------------------------------------
class _Model:
    """One TFLite model of the task bundle in a LiteRT interpreter."""

    def __init__(self, data: bytes, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_content=data, num_threads=threads)
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = [d["index"] for d in self._it.get_output_details()]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        return [self._it.get_tensor(i) for i in self._out]

    def warm_up(self) -> None:
        """One run on zeros: XNNPACK packs the weights on the first invoke (tens of ms), not on a frame."""
        d = self._it.get_input_details()[0]
        self(np.zeros(d["shape"], d["dtype"]))


class LiteRtLandmarker:
    """Landmarks, blendshapes and pose of tracked faces, frame by frame (VIDEO mode only).

    Drop-in for :class:`~faceplay.face.landmarker.Landmarker` in VIDEO mode::

        lm = LiteRtLandmarker(max_faces=1)
        faces = lm.detect(rgb, timestamp_ms)
    """

    mode = RunningMode.VIDEO

    def __init__(self, *, max_faces: int = 5, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, threads: int = 1, redetect_every: int = 15) -> None:
        from faceplay.face.detect import yunet

        with zipfile.ZipFile(models.model_path("face_landmarker")) as z:
            self._landmarks = _Model(z.read("face_landmarks_detector.tflite"), threads)
            self._blend = _Model(z.read("face_blendshapes.tflite"), 1)
        self._yunet = yunet(min_detection_confidence, top_k=50)
        # start-up work now, not in the stream's first frame (as MediaPipe's graph start is)
        self._landmarks.warm_up()
        self._blend.warm_up()
        _procrustes()  # the canonical mesh of the geometry pipeline
        self.max_faces = max_faces
        self.min_tracking_confidence = min_tracking_confidence
        self.redetect_every = redetect_every
        self._rois: list[Roi] = []
        self._since_detect = redetect_every

    # -- public --------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> list[Face]:
        """Faces of the next frame of the stream (``timestamp_ms`` is accepted for the Landmarker API)."""
        h, w = rgb.shape[:2]
        found: list[np.ndarray] = []
        for roi in self._rois:
            lm = self._run(rgb, roi)
            if lm is not None and not _overlaps(lm, found):
                found.append(lm)
        self._since_detect += 1
        if len(found) < self.max_faces and (not found or self._since_detect >= self.redetect_every):
            self._since_detect = 0
            for roi in self._detect(rgb):
                if len(found) >= self.max_faces:
                    break
                if any(_inside(roi, lm) for lm in found):
                    continue
                lm = self._run(rgb, roi)
                lm = self._run(rgb, roi_from_landmarks(lm)) if lm is not None else None  # refine on the face's own box
                if lm is not None and not _overlaps(lm, found):
                    found.append(lm)
        self._rois = [roi_from_landmarks(lm) for lm in found]
        return [self._face(lm, w, h) for lm in found]

    def warm_up(self, width: int, height: int) -> None:
        """Run the face detector once on a blank frame of this size (its buffers are made per size)."""
        self._detect(np.zeros((int(height), int(width), 3), np.uint8))

    def reset(self) -> None:
        """Forget the tracked regions (the next frame detects again)."""
        self._rois = []
        self._since_detect = self.redetect_every

    def close(self) -> None:
        """Release the interpreters."""
        self._landmarks = self._blend = self._yunet = None
        self._rois = []

    def __enter__(self) -> "LiteRtLandmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- stages --------------------------------------------------------------------------------
    def _detect(self, rgb: np.ndarray) -> list[Roi]:
        from faceplay.face.detect import yunet_rows

        return [roi_from_detection(d) for d in yunet_rows(self._yunet, rgb, DETECT_SIDE)]

    def _run(self, rgb: np.ndarray, roi: Roi) -> np.ndarray | None:
        if not roi.side >= MIN_ROI_PX:  # also NaN: degenerate landmarks or detection
            return None
        crop = cv2.warpAffine(rgb, roi.to_crop(), (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        x = crop.astype(np.float32)[None] * (1.0 / 255.0)
        pts, flag, _ = self._landmarks(x)
        presence = 1.0 / (1.0 + math.exp(-float(flag.reshape(-1)[0])))
        if presence < self.min_tracking_confidence:
            return None
        return roi.to_frame(pts.reshape(-1, 3).astype(np.float64)).astype(np.float32)

    def _face(self, lm: np.ndarray, w: int, h: int) -> Face:
        scores = self._blend(np.ascontiguousarray(lm[BLENDSHAPE_SUBSET, :2][None], dtype=np.float32))[0].reshape(-1)
        # scores: "_neutral", then MediaPipe's 51 names in BLENDSHAPE_NAMES order; the model has no tongueOut
        shapes = {n: 0.0 for n in BLENDSHAPE_NAMES}
        shapes.update((n, float(v)) for n, v in zip(BLENDSHAPE_NAMES, scores[1:]))
        m = pose_matrix(lm[:468], w, h)
        yaw, pitch, roll = euler_from_matrix(m)
        return Face(box=landmark_box(lm), score=1.0, landmarks=lm,
                    blendshapes=shapes, pose=Pose(yaw=yaw, pitch=pitch, roll=roll, matrix=m))


def _overlaps(lm: np.ndarray, found: list[np.ndarray]) -> bool:
    from faceplay.face.track import iou

    b = landmark_box(lm)
    return any(iou(b, landmark_box(f)) > 0.4 for f in found)


def _inside(roi: Roi, lm: np.ndarray) -> bool:
    x, y, w, h = landmark_box(lm)
    return x <= roi.cx <= x + w and y <= roi.cy <= y + h

"""Photo face detection: YuNet boxes at two scales, then MediaPipe landmarks on each face crop.

MediaPipe's own detector is a short-range model: it misses small faces in
large photos and sometimes fires on patterns. For photos faceplay therefore
detects with YuNet (OpenCV zoo, 5 keypoints) and runs the MediaPipe
FaceLandmarker on a square crop around each detection, mapping the 478
landmarks back to the full image.

YuNet has a best range of face sizes: at <= 1280 px it finds faces down to
~20 px, but a face that fills a close-up selfie scores below threshold (a
510 px face: 0.74 at 1280 px, 0.95 at 320 px). So a photo is searched at two
scales of an image pyramid (:data:`DETECT_SIDES`), duplicates are merged by
box overlap, and a weak candidate (score between :data:`WEAK_SCORE` and the
threshold) counts only when the landmarker's own detector confirms a face in
its crop. The head pose is then solved with PnP
MediaPipe's pose from the crop is re-expressed in the full image's camera
(:func:`crop_pose_to_image`), so it is consistent with
:func:`faceplay.face.pose.projection_matrix`.
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from faceplay import models
from faceplay.face.landmarker import Landmarker
from faceplay.face.pose import VERTICAL_FOV_DEG, euler_from_matrix
from faceplay.face.track import iou
from faceplay.face.types import Face, FaceList, Pose, RunningMode, landmark_box
from faceplay.native import quiet_opencv

log = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1280  # YuNet input is downscaled to this longest side (small faces)
DETECT_SIDES = (DETECT_MAX_SIDE, 320)  # the pyramid: full detail, then a scale where close-up faces fit YuNet
WEAK_SCORE = 0.5  # candidates from this score up are confirmed by the landmarker instead of dropped
CROP_SIZE = 384  # landmarker crop side in pixels
MERGE_IOU = 0.4  # candidates of two scales overlapping more than this are one face


def yunet(score_threshold: float, top_k: int = 5000):
    """The bundled YuNet detector (OpenCV zoo) keeping detections from ``score_threshold`` up."""
    quiet_opencv()
    return cv2.FaceDetectorYN.create(str(models.model_path("yunet")), "", (320, 320), score_threshold, 0.3, top_k)


def yunet_rows(detector, rgb: np.ndarray, side: int) -> np.ndarray:
    """YuNet rows (x, y, w, h, 5 keypoints as x, y, score) for ``rgb`` searched with its longer side
    at most ``side`` pixels, in full-image pixels, best first; (0, 15) when nothing is found."""
    h, w = rgb.shape[:2]
    s = min(1.0, side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if s < 1 else rgb
    detector.setInputSize(size)
    _, det = detector.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    if det is None:
        return np.zeros((0, 15), np.float32)
    det = det[np.argsort(-det[:, -1])].copy()
    det[:, :14] /= s
    return det


class PhotoFaceDetector:
    """Detect every face of a photo with landmarks, blendshapes and pose."""

    def __init__(self, *, max_faces: int = 10, score_threshold: float = 0.75, min_face_px: int = 24,
                 sides: tuple[int, ...] = DETECT_SIDES, weak_score: float = WEAK_SCORE) -> None:
        if max_faces < 1:
            from faceplay.errors import ConfigError

            raise ConfigError(f"max_faces must be at least 1, not {max_faces}")
        self.max_faces = max_faces
        self.sides = tuple(sides)
        self.weak_score = min(weak_score, score_threshold)
        self.score_threshold = score_threshold
        self.min_face_px = min_face_px
        self._yunet = None
        self._lm: Landmarker | None = None

    def _prepare(self) -> None:
        if self._yunet is None:
            self._yunet = yunet(self.weak_score)
            self._lm = Landmarker(RunningMode.IMAGE, max_faces=1, min_detection_confidence=0.3)

    def candidates(self, rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """YuNet detections of every pyramid scale as ((x, y, w, h), score) in full-image pixels, merged, best first.

        Scores from ``weak_score`` (:data:`WEAK_SCORE`) up are returned; :meth:`detect` confirms the weak ones.
        """
        self._prepare()
        h, w = rgb.shape[:2]
        found: list[tuple[tuple[float, float, float, float], float]] = []
        done: set[tuple[int, int]] = set()
        for side in self.sides:
            s = min(1.0, side / max(h, w))
            size = (max(1, round(w * s)), max(1, round(h * s)))
            if size in done or (found and side < DETECT_MAX_SIDE and max(size) * 1.5 > max(h, w) * min(1.0, DETECT_MAX_SIDE / max(h, w))):
                continue  # this scale is (nearly) the one already searched
            done.add(size)
            for d in yunet_rows(self._yunet, rgb, side):
                x, y, bw, bh = (float(v) for v in d[:4])
                if min(bw, bh) >= self.min_face_px:
                    found.append(((x, y, bw, bh), float(d[-1])))
        found.sort(key=lambda b: -b[1])
        merged: list[tuple[tuple[float, float, float, float], float]] = []
        for box, score in found:
            if all(iou(box, m[0]) <= MERGE_IOU for m in merged):
                merged.append((box, score))
        return merged

    def boxes(self, rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """Confident detections (score >= threshold) as ((x, y, w, h), score), best first, at most ``max_faces``."""
        return [c for c in self.candidates(rgb) if c[1] >= self.score_threshold][: self.max_faces]

    def detect(self, rgb: np.ndarray) -> FaceList:
        """All faces, largest first (at most ``max_faces``; ``.dropped`` counts the faces left out by that cap)."""
        faces = FaceList()
        extra = 0
        for box, score in self.candidates(rgb):
            if len(faces) >= self.max_faces:
                extra += score >= self.score_threshold
                continue
            f = self._landmarks_in_crop(rgb, box)
            if f is None:  # the landmarker sees no face here: a weak candidate is dropped, so is a strong one
                continue
            f.score = score
            if any(iou(f.box, g.box) > 0.5 for g in faces):
                continue
            faces.append(f)
        faces.sort(key=lambda f: -f.box[2] * f.box[3])
        faces.dropped = extra
        if extra:
            log.warning("%d more face(s) found but left out: at most %d faces per image (raise max_faces / --max-faces)",
                        extra, self.max_faces)
        return faces

    def _landmarks_in_crop(self, rgb: np.ndarray, box) -> Face | None:
        x, y, bw, bh = box
        cx, cy = x + bw / 2, y + bh / 2
        side = 2.0 * max(bw, bh)
        scale = CROP_SIZE / side
        m = np.array([[scale, 0, CROP_SIZE / 2 - scale * cx], [0, scale, CROP_SIZE / 2 - scale * cy]], dtype=np.float32)
        crop = cv2.warpAffine(rgb, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        found = self._lm.detect(crop)
        if not found:
            return None
        f = found[0]
        lm = f.landmarks.copy()
        lm[:, 0] = (lm[:, 0] - m[0, 2]) / scale
        lm[:, 1] = (lm[:, 1] - m[1, 2]) / scale
        lm[:, 2] = lm[:, 2] / scale
        h, w = rgb.shape[:2]
        f.landmarks = lm
        f.box = landmark_box(lm)
        mat = crop_pose_to_image(f.pose.matrix, (cx, cy), side, w, h)
        yaw, pitch, roll = euler_from_matrix(mat)
        f.pose = Pose(yaw=yaw, pitch=pitch, roll=roll, matrix=mat)
        return f

    def close(self) -> None:
        if self._lm is not None:
            self._lm.close()
            self._lm = None


def _focal(height_px: float) -> float:
    return (height_px / 2.0) / math.tan(math.radians(VERTICAL_FOV_DEG) / 2.0)


def crop_pose_to_image(m_crop: np.ndarray, center: tuple[float, float], side: float, width: int, height: int) -> np.ndarray:
    """Re-express a pose MediaPipe estimated on a square crop in the full image's camera.

    The crop acts as a virtual camera with the same field of view looking along
    the ray through the crop centre. Position: keep the face's pixel position
    and apparent size (depth scales with the focal-length ratio). Rotation:
    rotate by the crop camera's orientation (the ray), so the pose relative to
    the line of sight is unchanged.
    """
    cx, cy = center
    f_o = _focal(side)  # crop camera focal length in full-image pixels
    f_full = _focal(height)
    t = np.asarray(m_crop, dtype=np.float64)[:3, 3]
    u = cx + f_o * (t[0] / -t[2])
    v = cy - f_o * (t[1] / -t[2])
    z = t[2] * f_full / f_o
    x = (u - width / 2.0) * (-z) / f_full
    y = (height / 2.0 - v) * (-z) / f_full
    # rotation taking the crop camera's axis (0, 0, -1) onto the ray through the crop centre
    d = np.array([cx - width / 2.0, height / 2.0 - cy, -f_full])
    d /= np.linalg.norm(d)
    a = np.array([0.0, 0.0, -1.0])
    axis = np.cross(a, d)
    sin, cos = np.linalg.norm(axis), float(np.dot(a, d))
    if sin < 1e-9:
        r_ray = np.eye(3)
    else:
        k = axis / sin
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        r_ray = np.eye(3) + sin * kx + (1 - cos) * kx @ kx
    out = np.eye(4, dtype=np.float32)
    out[:3, :3] = r_ray @ np.asarray(m_crop, dtype=np.float64)[:3, :3]
    out[:3, 3] = (x, y, z)
    return out

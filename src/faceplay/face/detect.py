"""Photo face detection: YuNet boxes, then MediaPipe landmarks on each face crop.

MediaPipe's own detector is a short-range model: it misses small faces in
large photos and sometimes fires on patterns. For photos faceplay therefore
detects with YuNet (OpenCV zoo, multi-scale, 5 keypoints) and runs the
MediaPipe FaceLandmarker on a square crop around each detection, mapping the
478 landmarks back to the full image. The head pose is then solved with PnP
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
from faceplay.face.types import Face, Pose, RunningMode
from faceplay.native import quiet_opencv

log = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1280  # YuNet input is downscaled to this longest side
CROP_SIZE = 384  # landmarker crop side in pixels


class PhotoFaceDetector:
    """Detect every face of a photo with landmarks, blendshapes and pose."""

    def __init__(self, *, max_faces: int = 10, score_threshold: float = 0.75, min_face_px: int = 24) -> None:
        self.max_faces = max_faces
        self.score_threshold = score_threshold
        self.min_face_px = min_face_px
        self._yunet = None
        self._lm: Landmarker | None = None

    def _prepare(self) -> None:
        if self._yunet is None:
            quiet_opencv()
            path = str(models.model_path("yunet"))
            self._yunet = cv2.FaceDetectorYN.create(path, "", (320, 320), self.score_threshold, 0.3, 5000)
            self._lm = Landmarker(RunningMode.IMAGE, max_faces=1, min_detection_confidence=0.3)

    def boxes(self, rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """YuNet detections as ((x, y, w, h), score) in full-image pixels, best first."""
        self._prepare()
        h, w = rgb.shape[:2]
        s = min(1.0, DETECT_MAX_SIDE / max(h, w))
        small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else rgb
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self._yunet.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, det = self._yunet.detect(bgr)
        out = []
        if det is not None:
            for d in det:
                x, y, bw, bh = (float(v) / s for v in d[:4])
                if min(bw, bh) >= self.min_face_px:
                    out.append(((x, y, bw, bh), float(d[-1])))
        out.sort(key=lambda b: -b[1])
        return out[: self.max_faces]

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces, largest first."""
        faces: list[Face] = []
        for box, score in self.boxes(rgb):
            f = self._landmarks_in_crop(rgb, box)
            if f is None:
                continue
            f.score = score
            if any(iou(f.box, g.box) > 0.5 for g in faces):
                continue
            faces.append(f)
        faces.sort(key=lambda f: -f.box[2] * f.box[3])
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
        x0, y0 = lm[:468, 0].min(), lm[:468, 1].min()
        f.box = (float(x0), float(y0), float(lm[:468, 0].max() - x0), float(lm[:468, 1].max() - y0))
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

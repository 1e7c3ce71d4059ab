"""Face shape (oval, round, square, heart, oblong) from landmark geometry.

Landmarks are first rotated into a frontal view with the head pose, then four
scale-free ratios are measured: face length / cheekbone width, jaw width /
cheekbone width, forehead width / cheekbone width and the jaw-corner angle.
Each shape is a prototype in that ratio space; the scores are a softmax of
negative distances (so the second-best shape is visible too).
"""

from __future__ import annotations

import math

import numpy as np

from faceplay.face.types import FACE_SHAPES, Face

TOP, CHIN = 10, 152
CHEEK_L, CHEEK_R = 234, 454
JAW_L, JAW_R = 172, 397
FOREHEAD_L, FOREHEAD_R = 54, 284
JAW_ANGLE_L = (234, 172, 152)  # cheek - jaw corner - chin

#: prototype ratios: (length/width, jaw/width, forehead/width, jaw-corner angle in degrees)
PROTOTYPES = {
    "oval": (1.38, 0.80, 0.76, 138.0),
    "round": (1.22, 0.84, 0.78, 142.0),
    "square": (1.25, 0.90, 0.80, 128.0),
    "heart": (1.33, 0.74, 0.84, 140.0),
    "oblong": (1.55, 0.82, 0.76, 136.0),
}
SCALE = np.array([0.08, 0.04, 0.04, 6.0])  # spread of each ratio, to weigh the distances


def frontal_landmarks(face: Face) -> np.ndarray:
    """Landmarks (N, 3) rotated to a frontal view (pose removed), in pixels, y down."""
    pts = face.landmarks.astype(np.float64).copy()
    pts[:, 1] *= -1  # y up, like the pose's camera space
    pts[:, 2] *= -1  # z towards the camera
    c = pts[:468].mean(0)
    r = np.asarray(face.pose.matrix, dtype=np.float64)[:3, :3]
    out = (pts - c) @ r  # apply R^T to row vectors
    out[:, 1] *= -1
    return out


def measure(face: Face) -> np.ndarray:
    """The four shape ratios of a face."""
    p = frontal_landmarks(face)[:, :2]
    width = np.linalg.norm(p[CHEEK_L] - p[CHEEK_R])
    length = np.linalg.norm(p[TOP] - p[CHIN])
    jaw = np.linalg.norm(p[JAW_L] - p[JAW_R])
    forehead = np.linalg.norm(p[FOREHEAD_L] - p[FOREHEAD_R])
    a, b, c = (p[i] for i in JAW_ANGLE_L)
    v1, v2 = a - b, c - b
    ang = math.degrees(math.acos(np.clip(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-9), -1, 1)))
    return np.array([length / width, jaw / width, forehead / width, ang])


def face_shape(face: Face) -> str:
    """Classify the face shape; stores ``face.face_shape`` and ``face.face_shape_scores``."""
    m = measure(face)
    names = list(FACE_SHAPES)
    d = np.array([np.sqrt((((m - np.array(PROTOTYPES[n])) / SCALE) ** 2).sum()) for n in names])
    e = np.exp(-(d - d.min()))
    p = e / e.sum()
    face.face_shape_scores = {n: float(round(v, 4)) for n, v in zip(names, p)}
    face.face_shape = names[int(np.argmin(d))]
    return face.face_shape

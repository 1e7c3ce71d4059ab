"""Head pose: Euler angles from MediaPipe's facial transformation matrix, and
the perspective camera that matrix lives in.

MediaPipe's geometry pipeline places the canonical face model (centimetres)
in a camera space seen by a perspective camera with a 63 degree vertical field
of view (near 1, far 10000), principal point at the image centre. Renderers
use :func:`projection_matrix` with ``Pose.matrix`` to draw exactly over the
real head.
"""

from __future__ import annotations

import math

import numpy as np

VERTICAL_FOV_DEG = 63.0
NEAR = 1.0
FAR = 10000.0


def euler_from_matrix(m: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a 4x4 (or 3x3) face→camera transform.

    Conventions (image as seen by the viewer): ``yaw`` > 0 when the face turns
    towards the image's right, ``pitch`` > 0 when it looks up, ``roll`` > 0
    when it tilts counter-clockwise (the same sense as rotating the photo by a
    positive angle).
    """
    r = np.asarray(m, dtype=np.float64)[:3, :3]
    # R = Ry(yaw) @ Rx(-pitch) @ Rz(roll)  (intrinsic Y-X-Z; angles relative to the camera axes)
    pitch = math.asin(max(-1.0, min(1.0, r[1, 2])))
    yaw = math.atan2(r[0, 2], r[2, 2])
    roll = math.atan2(r[1, 0], r[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def matrix_from_euler(yaw: float, pitch: float, roll: float, translation=(0.0, 0.0, -50.0)) -> np.ndarray:
    """The 4x4 face→camera transform for the given angles (degrees) and translation (cm)."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    p = -p
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = ry @ rx @ rz
    m[:3, 3] = translation
    return m.astype(np.float32)


def projection_matrix(width: int, height: int, *, near: float = NEAR, far: float = FAR) -> np.ndarray:
    """OpenGL perspective projection (column vectors) matching MediaPipe's face geometry camera."""
    from faceplay.render.camera import perspective

    return perspective(VERTICAL_FOV_DEG, width / float(height), near, far)


def project(points_cm: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """Project canonical-space points (N, 3) in cm to image pixels (N, 2) with the face transform."""
    pts = np.c_[points_cm, np.ones(len(points_cm))] @ np.asarray(matrix, dtype=np.float64).T
    clip = pts @ projection_matrix(width, height).astype(np.float64).T
    ndc = clip[:, :2] / clip[:, 3:4]
    x = (ndc[:, 0] + 1.0) * 0.5 * width
    y = (1.0 - ndc[:, 1]) * 0.5 * height
    return np.stack([x, y], axis=1)

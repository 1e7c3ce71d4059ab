"""Perspective cameras, including the one matched to an input image.

Conventions (OpenGL / MediaPipe): camera space has the camera at the origin
looking down -z, +y up, +x to the image's right. Matrices are 4x4 float32,
column vectors (``p_clip = proj @ view @ model @ p``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: MediaPipe's face geometry pipeline: vertical field of view, near and far planes.
MEDIAPIPE_FOVY_DEG = 63.0
MEDIAPIPE_NEAR = 1.0
MEDIAPIPE_FAR = 10000.0


def perspective(fovy_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """Standard OpenGL perspective projection (``aspect`` = width / height)."""
    f = 1.0 / math.tan(math.radians(fovy_deg) / 2.0)
    m = np.zeros((4, 4), np.float32)
    m[0, 0] = f / aspect
    m[1, 1] = f
    m[2, 2] = (far + near) / (near - far)
    m[2, 3] = 2.0 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """View matrix of a camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, np.float64) for v in (eye, target, up))
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return m.astype(np.float32)


@dataclass
class Camera:
    """A pinhole camera rendering a ``width`` x ``height`` image.

    ``view`` maps world to camera space, ``proj`` camera space to clip space.
    """

    view: np.ndarray
    proj: np.ndarray
    width: int
    height: int

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world space."""
        inv = np.linalg.inv(self.view.astype(np.float64))
        return inv[:3, 3].astype(np.float32)

    @classmethod
    def for_image(cls, width: int, height: int, fovy_deg: float = MEDIAPIPE_FOVY_DEG,
                  near: float = MEDIAPIPE_NEAR, far: float = MEDIAPIPE_FAR) -> "Camera":
        """The camera of MediaPipe's face geometry pipeline for an image of this size.

        World space = camera space (identity view), so a head pose matrix from
        the FaceLandmarker (canonical face space -> camera space, centimetres)
        is directly the model matrix of an avatar that should sit on the head.
        """
        return cls(np.eye(4, dtype=np.float32), perspective(fovy_deg, width / height, near, far), int(width), int(height))

    @classmethod
    def orbit(cls, width: int, height: int, target=(0.0, 0.0, 0.0), distance: float = 60.0,
              yaw_deg: float = 0.0, pitch_deg: float = 0.0, fovy_deg: float = 25.0) -> "Camera":
        """A camera on a sphere around ``target`` (for galleries and previews)."""
        y, p = math.radians(yaw_deg), math.radians(pitch_deg)
        t = np.asarray(target, np.float64)
        eye = t + distance * np.array([math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)])
        return cls(look_at(eye, t), perspective(fovy_deg, width / height, 0.1 * distance, 10.0 * distance), int(width), int(height))

    def project(self, points: np.ndarray, model: np.ndarray | None = None) -> np.ndarray:
        """Pixel coordinates (N, 2) (origin top-left) and camera depth (N,) of 3D points."""
        p = np.asarray(points, np.float64).reshape(-1, 3)
        h = np.c_[p, np.ones(len(p))]
        m = self.view.astype(np.float64) if model is None else self.view.astype(np.float64) @ model
        cam = h @ m.T
        clip = cam @ self.proj.astype(np.float64).T
        ndc = clip[:, :3] / clip[:, 3:4]
        x = (ndc[:, 0] + 1.0) * 0.5 * self.width
        y = (1.0 - ndc[:, 1]) * 0.5 * self.height
        return np.c_[x, y, -cam[:, 2]]

    def crop(self, x0: int, y0: int, w: int, h: int) -> "Camera":
        """The same camera restricted to the pixel rectangle (x0, y0, w, h).

        Rendering the cropped camera at w x h gives exactly those pixels of the
        full render; used to render only the region around a head.
        """
        sx, sy = self.width / w, self.height / h
        # Pixel rect centre in NDC of the full image.
        cx = (x0 + w / 2.0) / self.width * 2.0 - 1.0
        cy = 1.0 - (y0 + h / 2.0) / self.height * 2.0
        t = np.eye(4, dtype=np.float64)
        t[0, 0], t[1, 1] = sx, sy
        t[0, 3], t[1, 3] = -cx * sx, -cy * sy
        return Camera(self.view, (t @ self.proj.astype(np.float64)).astype(np.float32), int(w), int(h))

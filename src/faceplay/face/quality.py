"""Face quality: sharpness, frontalness, size — used to pick a track's best face."""

from __future__ import annotations

import math

import cv2
import numpy as np

from faceplay.face.align import aligned_crop
from faceplay.face.types import Face, Quality
from faceplay.media.frame import Frame


def quality(frame: Frame, face: Face) -> Quality:
    """Measure and store ``face.quality``.

    - sharpness: variance of the Laplacian of the 112 px aligned grey crop
    - frontalness: cos(yaw) * cos(pitch), 1 when facing the camera
    - size: inter-ocular distance in pixels
    - score: product of saturating terms in 0..1 (sharpness 150 → 0.63,
      eye distance 40 px → 0.63) and frontalness
    """
    crop = aligned_crop(frame, face, 112)
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    sharp = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    front = max(0.0, math.cos(math.radians(face.pose.yaw)) * math.cos(math.radians(face.pose.pitch)))
    size = face.eye_distance
    score = (1 - math.exp(-sharp / 150.0)) * (1 - math.exp(-size / 40.0)) * front
    q = Quality(sharpness=sharp, frontalness=front, size=size, score=float(np.clip(score, 0, 1)))
    face.quality = q
    return q

"""Draw analysis results on images: boxes, landmarks, pose axes, labels."""

from __future__ import annotations

import cv2
import numpy as np

from faceplay.face.types import Face

_PALETTE = [(66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75), (145, 30, 180), (70, 240, 240)]


def annotate(rgb: np.ndarray, faces: list[Face], *, landmarks: bool = True, labels: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, landmarks, pose axes and attributes drawn."""
    out = rgb.copy()
    scale = max(1.0, max(rgb.shape[:2]) / 900.0)
    th = max(1, int(round(2 * scale)))
    for i, f in enumerate(faces):
        colour = _PALETTE[(f.track_id if f.track_id is not None else i) % len(_PALETTE)]
        x, y, w, h = (int(round(v)) for v in f.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, th, cv2.LINE_AA)
        if landmarks:
            for px, py in f.landmarks[:, :2].astype(int)[::2]:
                cv2.circle(out, (int(px), int(py)), max(1, th // 2), (255, 255, 255), -1, cv2.LINE_AA)
        _axes(out, f, th)
        if labels:
            _label(out, f, (x, y), colour, scale)
    return out


def _axes(img: np.ndarray, f: Face, th: int) -> None:
    r = f.pose.matrix[:3, :3]
    nose = f.landmarks[1, :2]
    length = 0.5 * f.box[2]
    for axis, colour in zip(range(3), [(230, 40, 40), (40, 200, 40), (40, 90, 240)]):
        d = r[:, axis]
        tip = nose + length * np.array([d[0], -d[1]])
        cv2.arrowedLine(img, tuple(int(v) for v in nose), tuple(int(v) for v in tip), colour, th, cv2.LINE_AA, tipLength=0.15)


def _label(img: np.ndarray, f: Face, origin: tuple[int, int], colour, scale: float) -> None:
    parts = []
    if f.track_id is not None:
        parts.append(f"#{f.track_id}")
    if f.gender is not None:
        parts.append(f"{f.gender[0].upper()}")
    if f.age is not None:
        parts.append(f"{f.age:.0f}y")
    if f.expression is not None:
        parts.append(f.expression)
    parts.append(f"yaw {f.pose.yaw:+.0f} pitch {f.pose.pitch:+.0f} roll {f.pose.roll:+.0f}")
    text = " ".join(parts)
    fs = 0.5 * scale
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
    x, y = origin
    y = max(tht + base + 2, y - 4)
    cv2.rectangle(img, (x, y - tht - base - 2), (x + tw + 4, y + 2), colour, -1)
    cv2.putText(img, text, (x + 2, y - base + 1), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), max(1, int(scale)), cv2.LINE_AA)

"""Video: shade every n-th frame, carry the key frame's maps along with the face in between.

Between two consecutive frames of a talking head the light on the face hardly
changes; its position does. So the video relighter (``shade_every=2``) runs the
full pipeline (fit, G-buffer, matte, estimate, shade, gain maps) on a *key
frame* and, on the frames in between, moves the key frame's low-resolution gain,
highlight and matte maps with the face — a similarity transform fitted to the
landmarks (key frame → this frame, scaled to the map grid) — and runs only the
full-resolution blend; the gain also takes back a change in the face's brightness,
as the per-frame SH level of a full pass does (no added flicker). A new key frame is shaded whenever the faces (track ids)
or the rig change, the face moved or turned too much, or ``shade_every`` frames
have passed.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from faceplay.relight.stages import _TO_LINEAR

#: beyond these a frame is shaded afresh: relative scale change, rotation (rad), shift in face widths
MAX_SCALE, MAX_ROT, MAX_SHIFT = 0.05, 0.06, 0.12
#: how much of a change in the face's brightness the gain of a carried frame takes back (as a full pass does)
LEVEL_FOLLOW = 0.85


def _ids(faces) -> tuple:
    return tuple(f.track_id for f in faces)


def face_level(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean linear luminance of the face's centre (the landmarks' box shrunk to 60 %, every 3rd pixel)."""
    lm = np.asarray(landmarks)[:, :2]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, 0.3 * (x1 - x0), 0.3 * (y1 - y0)
    H, W = rgb.shape[:2]
    crop = rgb[int(max(cy - hh, 0)):int(min(cy + hh, H)):3, int(max(cx - hw, 0)):int(min(cx + hw, W)):3]
    if crop.size == 0:
        return 0.0
    return float(_TO_LINEAR[cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)].mean())


def remember(state, rgb, faces, rig, blend) -> None:
    """Record the frame just shaded as the key frame."""
    state.key = {"landmarks": [np.asarray(f.landmarks, np.float64)[:, :2].copy() for f in faces],
                 "level": face_level(rgb, faces[0].landmarks) if faces else 0.0,
                 "ids": _ids(faces), "rig": rig, "blend": blend,
                 "maps": (state.gain, state.spec, state.matte)}
    state.since_key = 0


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2D similarity (2x3) taking points ``src`` (N, 2) onto ``dst`` (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    var = float((a ** 2).sum())
    if var <= 1e-9:
        return np.array([[1.0, 0, md[0] - ms[0]], [0, 1.0, md[1] - ms[1]]])
    c = float((a * b).sum()) / var
    s = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()) / var
    R = np.array([[c, -s], [s, c]])
    return np.hstack([R, (md - R @ ms)[:, None]])


def reuse(relighter, rgb: np.ndarray, faces: list, rig, strength: float, blend: str, state):
    """The relit frame from the key frame's moved maps, or None when this frame must be shaded."""
    from faceplay.relight.relighter import RelightResult

    key = state.key
    if (key is None or state.gain is None or state.since_key + 1 >= relighter.shade_every or len(faces) != 1
            or _ids(faces) != key["ids"] or key["blend"] != blend or not (rig is key["rig"] or rig == key["rig"])):
        return None
    gain, spec, matte = key["maps"]
    if gain is None or matte is None:
        return None
    t0 = time.perf_counter()
    cur = np.asarray(faces[0].landmarks, np.float64)[:, :2]
    T = similarity(key["landmarks"][0], cur)
    scale = float(np.hypot(T[0, 0], T[1, 0]))
    width = max(float(np.ptp(cur[:, 0])), 1.0)
    moved = float(np.linalg.norm(cur.mean(0) - key["landmarks"][0].mean(0)))
    if (not np.isfinite(T).all() or abs(scale - 1) > MAX_SCALE or abs(np.arctan2(T[1, 0], T[0, 0])) > MAX_ROT
            or moved > MAX_SHIFT * width):
        return None
    h, w = gain.shape[:2]
    H, W = rgb.shape[:2]
    D = np.diag([w / W, h / H])
    M = np.hstack([D @ T[:, :2] @ np.linalg.inv(D), (D @ T[:, 2])[:, None]]).astype(np.float64)
    flags, bc = cv2.INTER_LINEAR, cv2.BORDER_CONSTANT
    g = cv2.warpAffine(gain, M, (w, h), flags=flags, borderMode=bc, borderValue=(1.0, 1.0, 1.0))
    sp = cv2.warpAffine(spec, M, (w, h), flags=flags, borderMode=bc, borderValue=(0.0, 0.0, 0.0))
    mt = cv2.warpAffine(matte, M, (w, h), flags=flags, borderMode=bc, borderValue=0.0)
    # a full pass would follow the input's brightness at once (the SH level) and so neutralise its
    # flicker; do the same on the face: scale the gain by the key frame's face level over this one's
    level = face_level(rgb, cur)
    if level > 1e-4 and key["level"] > 1e-4:
        c = float(np.clip((key["level"] / level) ** LEVEL_FOLLOW, 0.8, 1.25))
        g = g * (1.0 + (c - 1.0) * mt)[..., None]
    out = relighter.composite(rgb, g, sp, mt, strength, rig)
    state.since_key += 1
    relighter.timings = {"reuse_ms": (time.perf_counter() - t0) * 1e3}
    return RelightResult(image=out, sh=state.sh, n_faces=len(faces))

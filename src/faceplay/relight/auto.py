"""``--preset auto``: a flattering "portrait light" chosen for this face and its current light.

The rule (what portrait photographers do, and Pixel's Portrait Light aims at):

* **key on the face's wider side** (broad lighting): with the head turned, the
  side of the face nearer the camera shows more of the face; the key goes
  there, 45° from the camera and 25° above the eyes. A frontal face keeps the
  side its current light already comes from (or the image's left).
* **2:1 key-to-fill**, measured as the mean linear luminance of the key-side
  half of the face over the other half (split at the nose tip): the share of
  the key against a soft ambient fill is found by bisection on this photo's
  own result (a few relights at the shading map's low resolution).
* **exposure**: a dark (e.g. back-lit) face is lifted towards a normal skin
  level, but never so far that more highlight pixels clip than before.
* **catchlights kept**: the brightest pixels inside each iris of the original
  are carried over, so the eyes keep their sparkle even when the key darkens
  that side.

:func:`auto_rig` returns the rig and a JSON-ready explanation of the choice.
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from faceplay.relight.lights import Light, Rig

log = logging.getLogger(__name__)

TARGET_RATIO = 2.0
#: a normal skin exposure: mean linear face luminance (sRGB ~118)
TARGET_LEVEL = 0.18
#: an 8-bit value at or above this counts as a clipped highlight
CLIP = 250
_LUMA = np.array([0.2126, 0.7152, 0.0722])
_IRIS = {"right": list(range(468, 473)), "left": list(range(473, 478))}


def face_halves_mask(shape, face) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the image-left and image-right half of the face (polygon split at the nose tip)."""
    from faceplay.relight.masks import face_polygon

    m = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(m, [face_polygon(np.asarray(face.landmarks)).astype(np.int32)], 1)
    xx = np.arange(shape[1])[None, :]
    cx = float(np.asarray(face.landmarks)[1, 0])
    return (m > 0) & (xx < cx), (m > 0) & (xx >= cx)


def half_levels(rgb: np.ndarray, face) -> tuple[float, float]:
    """Mean linear luminance of the image-left and image-right face halves."""
    lin = ((rgb.astype(np.float32) / 255.0) ** 2.2) @ _LUMA.astype(np.float32)
    left, right = face_halves_mask(rgb.shape, face)
    return float(lin[left].mean()), float(lin[right].mean())


def clipped_share(rgb: np.ndarray, face) -> float:
    """Share of the face's pixels with a channel at or above :data:`CLIP`."""
    left, right = face_halves_mask(rgb.shape, face)
    m = left | right
    return float((rgb[m].max(-1) >= CLIP).mean()) if m.any() else 0.0


def wider_side(face) -> tuple[str, float]:
    """``left`` / ``right`` (image side) where the face shows more of itself, and the asymmetry (0 = frontal)."""
    lm = np.asarray(face.landmarks)
    nose = lm[1, 0]
    left_w, right_w = nose - lm[234, 0], lm[454, 0] - nose  # cheek contour points, image-left / image-right
    total = max(left_w + right_w, 1e-6)
    return ("left" if left_w >= right_w else "right"), float(abs(left_w - right_w) / total)


def _rig(side: str, share: float, exposure: float) -> Rig:
    az = -45.0 if side == "left" else 45.0
    return Rig(name="auto", description="portrait light: broad key at 2:1 over a soft fill", exposure=exposure,
               lights=(Light("area", az=az, el=25.0, intensity=2.0 * share, size=0.35, specular=0.5),
                       Light("ambient", intensity=1.0 - share)))


def keep_catchlights(original: np.ndarray, relit: np.ndarray, faces: list) -> int:
    """Copy the original's catchlights (the brightest pixels in each iris) into ``relit`` in place; returns how many."""
    n = 0
    for f in faces:
        lm = np.asarray(f.landmarks)
        if lm.shape[0] < 478:
            continue
        for idx in _IRIS.values():
            c = lm[idx[0], :2]
            r = max(float(np.linalg.norm(lm[idx[1:], :2] - c, axis=1).max()), 2.0)
            x0, x1 = int(max(c[0] - r, 0)), int(min(c[0] + r + 1, original.shape[1]))
            y0, y1 = int(max(c[1] - r, 0)), int(min(c[1] + r + 1, original.shape[0]))
            if x1 <= x0 or y1 <= y0:
                continue
            o, t = original[y0:y1, x0:x1], relit[y0:y1, x0:x1]
            yy, xx = np.mgrid[y0:y1, x0:x1]
            inside = (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= r * r
            lum = o.astype(np.float32) @ _LUMA.astype(np.float32)
            if not inside.any():
                continue
            thr = max(float(np.percentile(lum[inside], 90)), 1.6 * float(np.median(lum[inside])), 120.0)
            spark = inside & (lum >= thr) & (lum > t.astype(np.float32) @ _LUMA.astype(np.float32))
            t[spark] = o[spark]
            n += int(spark.sum())
    return n


def auto_rig(relighter, rgb: np.ndarray, faces: list, strength: float = 1.0, blend: str = "ratio",
             max_steps: int = 6) -> tuple[Rig, dict]:
    """The portrait-light rig for the largest face of ``rgb`` and why it was chosen (see the module docstring)."""
    from faceplay.relight.reference import describe_sh, largest_face

    face = largest_face(faces)
    side, asym = wider_side(face)
    est = describe_sh(relighter.estimate(rgb, faces).sh)
    l0, r0 = half_levels(rgb, face)
    if asym < 0.08:  # frontal: follow the light that is already there, if any
        side = "left" if (est["az"] < 0 if abs(est["az"]) > 10 else l0 >= r0) else "right"
        why_side = f"frontal face (asymmetry {asym:.2f}): key on the side the current light comes from"
    else:
        why_side = f"key on the face's wider side ({side}; asymmetry {asym:.2f}): broad lighting"

    def ratio(img):
        a, b = half_levels(img, face)
        return (a / max(b, 1e-6)) if side == "left" else (b / max(a, 1e-6))

    before = ratio(rgb)
    level = 0.5 * (l0 + r0)
    goal = float(np.clip(TARGET_LEVEL, level, 2.5 * level))  # lift a dark face (at most 2.5x), never darken
    exposure = goal / max(level, 1e-4)
    clip0 = clipped_share(rgb, face)
    lo, hi, share = 0.05, 0.95, 0.5
    tried = []
    best = None
    for _ in range(max_steps):
        out = relighter.relight(rgb, faces, _rig(side, share, exposure), strength, blend=blend).image
        r, c = ratio(out), clipped_share(out, face)
        out_level = float(np.mean(half_levels(out, face)))
        tried.append({"key_share": round(share, 3), "exposure": round(exposure, 3), "ratio": round(r, 3),
                      "clipped": round(c, 4), "face_level": round(out_level, 4)})
        if c > clip0 + 0.002 and exposure > 0.6:  # highlights clip: less exposure, same balance
            exposure = max(0.6, exposure * 0.85)
            continue
        dark = goal > level * 1.01
        score = abs(math.log(r / TARGET_RATIO)) + (abs(math.log(out_level / goal)) if dark else 0.0)
        if best is None or score < best[4]:
            best = (share, r, exposure, c, score)
        if dark:  # a dark face: the gain is uneven, so steer the exposure by the level reached
            exposure = float(np.clip(exposure * (goal / max(out_level, 1e-4)) ** 0.8, 1.0, 4.0))
        if abs(r - TARGET_RATIO) < 0.15 and (not dark or out_level > 0.9 * goal):
            break
        lo, hi = (share, hi) if r < TARGET_RATIO else (lo, share)
        share = 0.5 * (lo + hi)
    if best is None:
        best = (share, tried[-1]["ratio"], exposure, tried[-1]["clipped"], 0.0)
    share, r, exposure, c, _ = best
    rig = _rig(side, share, exposure)
    key = rig.lights[0]
    info = {
        "preset": "auto", "side": side, "asymmetry": round(asym, 3),
        "key": {"az": key.az, "el": key.el, "intensity": round(key.intensity, 3), "size": key.size},
        "fill": {"ambient": round(1.0 - share, 3)}, "exposure": round(exposure, 3),
        "target_key_to_fill": TARGET_RATIO, "key_to_fill_before": round(before, 3), "key_to_fill_after": round(r, 3),
        "face_level_before": round(level, 4), "face_level_goal": round(goal, 4), "clipped_before": round(clip0, 4), "clipped_after": round(c, 4),
        "current_light": {"az": est["az"], "el": est["el"], "key_to_fill": est["key_to_fill"]},
        "steps": tried,
        "explanation": (f"{why_side}; key at az {key.az:+.0f}°, el {key.el:.0f}° with {share:.0%} of the light, "
                        f"the rest a soft fill, so the key side is {r:.2f}x the fill side (target 2:1; "
                        f"it was {before:.2f}:1); exposure x{exposure:.2f}"
                        + (" (the face was dark)" if exposure > 1.01 else "")
                        + "; catchlights kept"),
    }
    log.info("auto light: %s", info["explanation"])
    return rig, info

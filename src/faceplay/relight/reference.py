"""Copy the light of a reference photo (``faceplay relight --light-from``), and SH light maths.

The reference's face is fitted and its light estimated as second-order SH
(:meth:`faceplay.relight.relighter.Relighter.estimate`, skin albedo prior,
view frame). :func:`describe_sh` turns any SH light into what a photographer
names: the dominant key direction (az / el in the image frame, as in
:mod:`faceplay.relight.lights`), the key's intensity, the fill and the
key-to-fill ratio (irradiance on the key-side cheek over the other cheek,
normals 45° to either side). :func:`rig_from_sh` rebuilds a rig from it: a
soft key light at that direction (so it casts the face's soft shadow and makes
highlights) plus the rest of the SH as fill, with the light's colour; it keeps
the input face's exposure (``keep``), so only the light's shape and colour
move from one person to another. The light lives in the camera frame: a
reference lit from the image's left lights the input from the image's left
whatever the two head poses.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from faceplay.errors import NoFaceError
from faceplay.relight import illum
from faceplay.relight.lights import Light, Rig

log = logging.getLogger(__name__)

#: mean chromaticity (linear RGB / luminance) of skin under white light: the colour prior
#: (the mean over the faces of the shared test photos, which span several skin tones)
SKIN_CHROMA = np.array([1.62, 0.85, 0.70])
_LUMA = np.array([0.2126, 0.7152, 0.0722])


def sphere_points(n: int = 1500) -> np.ndarray:
    """``n`` near-uniform unit vectors (Fibonacci sphere)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = math.pi * (1 + 5 ** 0.5) * i
    return np.stack([r * np.cos(phi), z, r * np.sin(phi)], -1)


_SPHERE = sphere_points()
_Y = illum.sh_basis(_SPHERE)


def project_rig(rig: Rig) -> np.ndarray:
    """(9, 3) SH of the rig's diffuse irradiance (no shadows, no occlusion), by quadrature on the sphere."""
    lights_only = Rig(name=rig.name, lights=rig.lights, exposure_mode="keep")
    diff, _ = illum.shade_rig(lights_only, _SPHERE.astype(np.float32))
    sh = (4 * math.pi / len(_SPHERE)) * (_Y.T @ diff.astype(np.float64))
    return sh + (rig.sh if rig.sh is not None else 0.0)


def direction_to_az_el(d: np.ndarray) -> tuple[float, float]:
    """View-frame unit vector -> (az, el) degrees in the image frame (inverse of ``Light.direction``)."""
    d = np.asarray(d, np.float64) / max(float(np.linalg.norm(d)), 1e-9)
    return math.degrees(math.atan2(d[0], d[2])), math.degrees(math.asin(float(np.clip(d[1], -1, 1))))


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two directions."""
    a = np.asarray(a, float) / max(np.linalg.norm(a), 1e-9)
    b = np.asarray(b, float) / max(np.linalg.norm(b), 1e-9)
    return math.degrees(math.acos(float(np.clip(a @ b, -1, 1))))


def _grey(sh: np.ndarray) -> np.ndarray:
    return sh @ _LUMA if sh.ndim == 2 else sh


def describe_sh(sh: np.ndarray) -> dict:
    """Key direction, key / fill and the key-to-fill ratio of a (9, 3) or (9,) SH light."""
    g = _grey(np.asarray(sh, np.float64))
    band1 = np.array([g[3], g[1], g[2]])  # x, y, z
    norm = float(np.linalg.norm(band1))
    d = band1 / norm if norm > 1e-9 else np.array([0.0, 0.0, 1.0])
    az, el = direction_to_az_el(d)
    # key-side and fill-side cheeks: normals 45 degrees to either side
    side = 1.0 if d[0] >= 0 else -1.0
    n_key = np.array([side * 0.7071, 0.0, 0.7071])
    e_key = float(illum.sh_basis(n_key) @ g)
    e_fill = float(illum.sh_basis(n_key * [-1, 1, 1]) @ g)
    unit = project_rig(Rig("unit", (Light("area", az=az, el=el, size=0.25),)))
    u = _grey(unit)
    key = norm / max(float(np.linalg.norm([u[3], u[1], u[2]])), 1e-9)
    key = min(key, max(g[0], 0.0) / max(u[0], 1e-9))  # the key never holds more than all the light
    fill = max(float(g[0] - key * u[0]) * 0.282095, 0.0)
    return {"direction": [round(float(x), 4) for x in d], "az": round(az, 1), "el": round(el, 1),
            "key_intensity": round(float(key), 4), "fill": round(fill, 4),
            "key_to_fill": round(max(e_key, 1e-4) / max(e_fill, 1e-4), 3),
            "level": round(float(g[0]) * 0.282095, 4)}


def rig_from_sh(sh: np.ndarray, color=(1.0, 1.0, 1.0), name: str = "reference", description: str = "",
                key_size: float = 0.25) -> tuple[Rig, dict]:
    """A rig that reproduces the (9, 3) SH light: a soft key at its dominant direction + the rest as SH fill."""
    g = _grey(np.asarray(sh, np.float64))
    info = describe_sh(g)
    col = np.asarray(color, np.float64)
    col = col / max(float(col @ _LUMA), 1e-6)
    key = Light("area", az=info["az"], el=info["el"], intensity=float(info["key_intensity"]), size=key_size,
                color=tuple(float(c) for c in np.clip(col / col.max(), 0, 1)))
    key = replace(key, intensity=key.intensity * float(col.max()))  # colour peaks at 1; intensity carries the rest
    key_sh = project_rig(Rig("key", (key,)))
    residual = g[:, None] * col[None, :] - key_sh
    rig = Rig(name=name, lights=(key,), description=description, sh=residual, exposure_mode="keep")
    info = {**info, "color": [round(float(c), 3) for c in col]}
    return rig, info


def light_color(rgb: np.ndarray, face) -> np.ndarray:
    """The light's colour on a face, normalised to luminance 1: a mild cast only.

    Skin tone and light colour cannot be told apart on one face, so two cues are
    combined, each trusted only a quarter (in log space): the skin's chromaticity
    over the skin prior :data:`SKIN_CHROMA`, and the grey-world colour of the
    whole photo (which the skin tone does not bias); clamped to ±20 %.
    """
    import cv2

    from faceplay.relight.masks import face_polygon

    m = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(m, [face_polygon(np.asarray(face.landmarks)).astype(np.int32)], 1)
    lin_all = (rgb[::4, ::4].astype(np.float64) / 255.0) ** 2.2
    grey = lin_all.reshape(-1, 3).mean(0)
    grey = grey / max(float(grey @ _LUMA), 1e-6)
    px = rgb[m > 0].astype(np.float64) / 255.0
    lin = px ** 2.2
    y = lin @ _LUMA
    ok = (y > 0.01) & (lin.max(1) < 0.97) if len(px) else np.zeros(0, bool)
    skin = np.ones(3) if ok.sum() < 20 else (lin[ok].mean(0) / max(float(y[ok].mean()), 1e-6)) / SKIN_CHROMA
    cast = np.clip(np.power(np.maximum(skin, 1e-3), 0.25) * np.power(np.maximum(grey, 1e-3), 0.25), 0.8, 1.2)
    return cast / float(cast @ _LUMA)


def largest_face(faces: list):
    """The face with the largest box (the reference's subject)."""
    return max(faces, key=lambda f: float(np.ptp(np.asarray(f.landmarks)[:, 0]) * np.ptp(np.asarray(f.landmarks)[:, 1])))


def light_from_reference(reference, relighter=None, analyzer=None) -> tuple[Rig, dict]:
    """The light on the reference photo's (largest) face as a rig plus a description of it.

    ``reference``: a path or an RGB array. Raises :class:`NoFaceError` when it has no face.
    """
    from faceplay.relight.api import _rgb
    from faceplay.relight.relighter import Relighter

    rgb = _rgb(reference)
    if analyzer is None:
        from faceplay.face.analyzer import FaceAnalyzer

        with FaceAnalyzer() as fa:
            faces = fa.analyze(rgb)
    else:
        faces = analyzer.analyze(rgb)
    name = reference if isinstance(reference, str) else getattr(reference, "name", "reference")
    if not faces:
        raise NoFaceError(f"{name}: no face found in the reference photo; use a photo with a clearly visible face")
    face = largest_face(faces)
    own = relighter is None
    r = relighter or Relighter()
    try:
        res = r.relight(rgb, [face], Rig(name="none", lights=()), strength=0.0)
        if res.sh is None:
            raise NoFaceError(f"{name}: the face is too small to read its light; use a reference with a larger face")
        est = res.original_rig()
    finally:
        if own:
            r.close()
    rig, info = rig_from_sh(est.sh, light_color(rgb, face), name="light-from",
                            description=f"the light of the face in {name}")
    info["reference_faces"] = len(faces)
    info["sh"] = np.round(np.asarray(est.sh, np.float64), 6).tolist()  # the target for :func:`match_light`
    log.info("reference light: az %.0f el %.0f, key-to-fill %.2f", info["az"], info["el"], info["key_to_fill"])
    return rig, info


def match_light(relighter, rgb: np.ndarray, faces: list, rig: Rig, target_sh: np.ndarray, strength: float = 1.0,
                iterations: int = 2, blend: str = "ratio") -> tuple[Rig, dict]:
    """Refine ``rig`` on this photo so that the light estimated on the result matches ``target_sh``.

    The gain maps are clamped, skin scatters light into its shadows and the
    original light is removed only as far as it was estimated, so the first
    result's light is usually flatter than the reference's. Each iteration
    relights, re-estimates the result's light and adds the (level-normalised)
    difference in the directional SH bands to the light it aims at and rebuilds the key
    and the fill from it (:func:`rig_from_sh`; extra lights of ``rig`` are kept). Returns the rig
    whose result came closest (by key direction, then key-to-fill) and the
    residual error.
    """
    tgt = _grey(np.asarray(target_sh, np.float64))
    tgt_n = tgt / max(tgt[0], 1e-6)
    t_info = describe_sh(tgt)
    best, best_err, cur = rig, None, rig
    aim = _grey(project_rig(rig))
    aim_level = max(float(aim[0]), 1e-6)
    history = []
    for it in range(iterations + 1):
        out = relighter.relight(rgb, faces, cur, strength, blend=blend).image
        est = _grey(relighter.estimate(out, faces).sh)
        e_info = describe_sh(est)
        err = (angle_between(e_info["direction"], t_info["direction"]),
               abs(math.log(e_info["key_to_fill"] / t_info["key_to_fill"])))
        history.append({"angle_deg": round(err[0], 1), "key_to_fill": e_info["key_to_fill"]})
        if best_err is None or err[0] + 5 * err[1] < best_err[0] + 5 * best_err[1]:
            best, best_err = cur, err
        if it == iterations or (err[0] < 5 and err[1] < 0.1):
            break
        # aim further in the direction of the remaining error: a new key + fill from the corrected SH
        aim = aim + (tgt_n - est / max(est[0], 1e-6)) * aim_level * np.r_[0.0, np.ones(8)]
        col = np.asarray(rig.lights[0].color if rig.lights else (1, 1, 1), np.float64)
        made, _ = rig_from_sh(aim, col)
        cur = replace(rig, lights=made.lights + rig.lights[1:], sh=made.sh)
    return best, {"angle_error_deg": round(best_err[0], 1), "iterations": history}

"""ARKit names as other tools spell them, VRM presets derived from them, gaze and head rotation.

* :data:`PERFECT_SYNC` — the 52 names in upper camel case (``JawOpen``), the
  spelling of VMC "perfect sync" avatars and of Live Link Face.
* :data:`LLF_ORDER` — the 52 names in the column order of Live Link Face CSV files.
* :func:`vrm_presets` — VRM 0.x expression presets (blink, visemes, emotions)
  for avatars without perfect sync.
* :func:`gaze` — eye yaw/pitch per eye from the ``eyeLook*`` blendshapes.
* :func:`matrix_to_quat` — a rotation matrix as an ``(x, y, z, w)`` quaternion.
"""

from __future__ import annotations

import math

import numpy as np

from faceplay.face.types import BLENDSHAPE_NAMES

#: ARKit camelCase -> upper camel case ("perfect sync", Live Link Face).
PERFECT_SYNC: dict[str, str] = {n: n[0].upper() + n[1:] for n in BLENDSHAPE_NAMES}

#: The 52 blendshape columns of a Live Link Face CSV, in its order (upper camel case).
LLF_ORDER: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft", "EyeSquintLeft",
    "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight", "JawForward", "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel",
    "MouthPucker", "MouthRight", "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft",
    "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight",
    "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft",
    "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
)
assert sorted(LLF_ORDER) == sorted(PERFECT_SYNC.values())

#: The VRM 0.x presets :func:`vrm_presets` fills.
VRM_PRESET_NAMES: tuple[str, ...] = ("Blink", "Blink_L", "Blink_R", "A", "I", "U", "E", "O", "Joy", "Angry", "Sorrow", "Fun")

#: Eye rotation (degrees) at a full ``eyeLook*`` weight (about ARKit's range).
EYE_YAW_RANGE = 30.0
EYE_PITCH_RANGE = 25.0

_I = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def vrm_presets(w: np.ndarray) -> dict[str, float]:
    """VRM presets from the 52 weights ``w`` (MediaPipe order, 0..1).

    ``Blink`` is the part both eyes share and ``Blink_L``/``Blink_R`` the rest,
    so an avatar that adds all three never closes an eye twice. Visemes split
    the mouth opening by roundness (funnel/pucker) and width (stretch): open
    and wide is ``E``, open and neither is ``A``, closed and wide ``I``,
    round and open ``O``, round and closed ``U``. ``Joy`` is a smile with
    squinting eyes, ``Fun`` a smile with open eyes, ``Angry`` lowered brows,
    ``Sorrow`` a frown with raised inner brows.
    """
    g = lambda n: float(w[_I[n]])  # noqa: E731
    bl, br = g("eyeBlinkLeft"), g("eyeBlinkRight")
    both = min(bl, br)
    opened = _clip(g("jawOpen") - g("mouthClose"))
    rnd = _clip(max(g("mouthFunnel"), g("mouthPucker")))
    wide = _clip((g("mouthStretchLeft") + g("mouthStretchRight")) / 2 * 2.0)
    smile = _clip((g("mouthSmileLeft") + g("mouthSmileRight")) / 2)
    squint = _clip((g("cheekSquintLeft") + g("cheekSquintRight") + g("eyeSquintLeft") + g("eyeSquintRight")) / 4 * 2.0)
    return {
        "Blink": _clip(both), "Blink_L": _clip(bl - both), "Blink_R": _clip(br - both),
        "A": _clip(opened * (1 - rnd) * (1 - wide)),
        "I": _clip((1 - opened) * (1 - rnd) * wide),
        "U": _clip(g("mouthPucker") * (1 - opened)),
        "E": _clip(opened * (1 - rnd) * wide),
        "O": _clip(rnd * opened),
        "Joy": _clip(smile * squint),
        "Angry": _clip((g("browDownLeft") + g("browDownRight")) / 2 * (1 - smile)),
        "Sorrow": _clip(((g("mouthFrownLeft") + g("mouthFrownRight")) / 2 + g("browInnerUp")) / 2 * (1 - smile)),
        "Fun": _clip(smile * (1 - squint)),
    }


def gaze(w: np.ndarray) -> dict[str, dict[str, float]]:
    """Eye yaw/pitch in degrees per eye from the ``eyeLook*`` weights.

    Same signs as the head yaw of :func:`faceplay.face.pose.euler_from_matrix`:
    yaw > 0 when the eye turns towards the image's right (the person's left),
    pitch > 0 looking up. For the left eye that is "out", for the right eye "in".
    """
    g = lambda n: float(w[_I[n]])  # noqa: E731
    return {
        "left": {"yaw": round((g("eyeLookOutLeft") - g("eyeLookInLeft")) * EYE_YAW_RANGE, 3),
                 "pitch": round((g("eyeLookUpLeft") - g("eyeLookDownLeft")) * EYE_PITCH_RANGE, 3)},
        "right": {"yaw": round((g("eyeLookInRight") - g("eyeLookOutRight")) * EYE_YAW_RANGE, 3),
                  "pitch": round((g("eyeLookUpRight") - g("eyeLookDownRight")) * EYE_PITCH_RANGE, 3)},
    }


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """(x, y, z, w) unit quaternion of a 3x3 rotation (the nearest one, scale removed), w >= 0."""
    u, _, vt = np.linalg.svd(np.asarray(r, np.float64)[:3, :3])
    m = u @ vt
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q, np.float64)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quat_to_matrix(q) -> np.ndarray:
    """3x3 rotation of an (x, y, z, w) quaternion."""
    x, y, z, w = (float(v) for v in q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def quat_mul(a, b) -> np.ndarray:
    """Hamilton product ``a * b`` of (x, y, z, w) quaternions (apply ``b`` first)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])

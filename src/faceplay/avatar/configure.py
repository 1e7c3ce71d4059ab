"""Choose avatar options from face attributes (gender, age, skin tone, face shape).

Every choice is a default: fields set in the user's :class:`AvatarConfig` win.
Unknown attributes (``None``) keep the avatar's own defaults.
"""

from __future__ import annotations

import colorsys

from faceplay.avatar.model import AvatarConfig
from faceplay.face.types import Face

#: Attribute fields the configuration needs from the FaceAnalyzer.
ATTRIBUTE_FIELDS = ("age", "gender", "skin_tone", "face_shape")


def stylise_skin(rgb: tuple[int, int, int]) -> str:
    """A measured skin colour made toy-like (a little brighter and more saturated), as '#rrggbb'."""
    r, g, b = (c / 255.0 for c in rgb)
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    l = min(0.85, max(0.2, l))
    s = min(0.7, max(0.25, s * 1.15))
    r, g, b = colorsys.hls_to_rgb(h, l, s)
    return "#%02x%02x%02x" % tuple(int(round(c * 255)) for c in (r, g, b))


def config_from_face(face: Face | None, options: dict | None = None, user: AvatarConfig | None = None) -> AvatarConfig:
    """Avatar options for ``face`` (any attribute may be None), overridden by ``user``.

    ``options`` is the avatar's switchable parts (``Avatar.options``); choices
    the avatar does not offer are not made (e.g. hair on the robot).
    """
    options = options or {}
    auto = AvatarConfig()
    if face is not None:
        has_hair = "hair" in options
        if face.skin_tone is not None and has_hair:  # only the human avatar takes the person's skin colour
            auto.skin = stylise_skin(tuple(face.skin_tone.rgb))
        if face.face_shape and has_hair:
            auto.head_shape = face.face_shape
        if has_hair:
            if face.gender == "female":
                auto.hair = "long" if "long" in options["hair"] else None
            elif face.gender == "male":
                auto.hair = "short" if "short" in options["hair"] else None
                if face.age is not None and face.age >= 62 and "none" in options["hair"]:
                    auto.hair = "none"
            if face.age is not None and face.age >= 55:
                auto.hair_color = "#b9b4ae"
            elif face.age is not None and face.age < 12:
                auto.hair_color = "#6b4a2e"
        if "beard" in options and face.gender == "male" and face.age is not None and 30 <= face.age:
            auto.beard = "yes"
    out = AvatarConfig(**auto.__dict__)
    if user is not None:
        for k, v in user.__dict__.items():
            if v is not None:
                setattr(out, k, v)
    return out

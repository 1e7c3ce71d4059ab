"""The web app's use of :mod:`faceplay.avatar`: catalogue, suggestion, photo and live sessions.

Everything that renders runs on the engines' GL thread. Live sessions reuse
the tracker of the live loop (a face is never re-detected) and the app's
shared :class:`FaceAnalyzer` for the attributes that configure an avatar.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from faceplay.web.errors import HTTPError

log = logging.getLogger(__name__)

AUTO = "auto"
#: the avatar "auto" picks: the one whose parts (hair, beard, skin) follow the person's attributes
AUTO_AVATAR = "toon"
TITLES = {"toon": "Toon (human, follows your look)", "robot": "Robot (metal)", "creature": "Creature",
          "bear": "Bear (fur)"}
MODE_TITLES = {"replace": "Replace my head", "side-by-side": "Side by side", "avatar-only": "Avatar only (green screen)"}
LIVE_SAMPLES = 0  #: no MSAA live: 4x MSAA costs 2-3x per frame on a CPU
PHOTO_SAMPLES = 4


def names() -> list[str]:
    from faceplay.avatar import builtin_names

    return builtin_names()


def modes() -> tuple[str, ...]:
    from faceplay.avatar.effect import MODES

    return MODES


def catalogue() -> dict[str, Any]:
    """Avatars and modes for the page's pickers."""
    return {"avatars": [{"name": AUTO, "title": "Auto (from my face)"}]
            + [{"name": n, "title": TITLES.get(n, n)} for n in names()],
            "modes": [{"name": m, "title": MODE_TITLES.get(m, m)} for m in modes()],
            "auto": AUTO_AVATAR}


def check_choice(avatar: str, mode: str) -> None:
    """400 for an avatar or mode that does not exist (names only: never a path)."""
    if avatar != AUTO and avatar not in names():
        raise HTTPError(400, f"unknown avatar {avatar[:40]!r}; choose one of {', '.join([AUTO, *names()])}")
    if mode not in modes():
        raise HTTPError(400, f"unknown mode {mode[:40]!r}; choose one of {', '.join(modes())}")


def _resolve(avatar: str) -> str:
    return AUTO_AVATAR if avatar == AUTO else avatar


def describe(face) -> str:
    """The attributes that configured an avatar, in words."""
    parts = []
    if face.gender:
        parts.append(face.gender)
    if face.age is not None:
        parts.append(f"~{face.age:.0f} y")
    if face.face_shape:
        parts.append(f"{face.face_shape} face")
    if face.skin_tone is not None:
        parts.append(f"skin tone {face.skin_tone.monk}/10")
    return ", ".join(parts) or "no attributes"


def suggest(face) -> dict[str, Any]:
    """The avatar and options the person's attributes suggest."""
    from faceplay.avatar import Avatar
    from faceplay.avatar.configure import config_from_face

    cfg = config_from_face(face, Avatar(AUTO_AVATAR, None).options)
    conf = {k: v for k, v in cfg.__dict__.items() if v is not None}
    words = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in conf.items())
    return {"avatar": AUTO_AVATAR, "config": conf, "attributes": describe(face),
            "reason": f"{describe(face)} → {AUTO_AVATAR}" + (f" with {words}" if words else "")}


_photo_effects: dict[tuple[str, str], Any] = {}
_photo_lock = threading.Lock()


def photo(rgb: np.ndarray, faces: list, avatar: str, mode: str) -> np.ndarray:
    """The avatar effect on one photo whose faces (with attributes) are known. GL thread."""
    from faceplay.avatar import AvatarEffect

    check_choice(avatar, mode)
    key = (_resolve(avatar), mode)
    with _photo_lock:
        fx = _photo_effects.get(key)
        if fx is None:
            fx = _photo_effects[key] = AvatarEffect(key[0], mode=mode, samples=PHOTO_SAMPLES)
        out = fx.process_image(rgb, faces)
    return out[:, :, :3] if out.ndim == 3 and out.shape[2] == 4 else out


class LiveAvatar:
    """One live avatar stream: frames with tracked faces in, composited frames out (GL thread)."""

    def __init__(self, avatar: str, mode: str, analyze_attributes=None, samples: int = LIVE_SAMPLES, driver=None) -> None:
        from faceplay.avatar import AvatarEffect

        check_choice(avatar, mode)
        self.name = _resolve(avatar)
        self.fx = AvatarEffect(self.name, mode=mode, samples=samples, driver=driver)
        # the per-stream state of the Effect contract (avatars, drivers, exposure), when this build has it
        new_state = getattr(self.fx, "new_state", None)
        self.state = new_state("live") if new_state is not None else None
        self.needs_attributes = self.fx.needs_attributes()
        self.analyze_attributes = analyze_attributes
        self.seen: set = set()
        self.info: dict | None = None

    def prepare(self, frame, faces: list) -> None:
        """Track thread, before :meth:`frame`: the GL-free work of the effect (the head matte), put
        into ``frame`` (a :class:`~faceplay.media.frame.Frame`) as the live runner does."""
        if self.state is not None:
            self.fx.prepare(frame, faces, self.state)

    def frame(self, rgb: np.ndarray, faces: list, prepared=None) -> np.ndarray:
        """The composited frame (GL thread); ``prepared``: the frame's ``"person_matte"`` from :meth:`prepare`."""
        new = [f for f in faces if f.track_id not in self.seen]
        if new and self.needs_attributes and self.analyze_attributes is not None:
            self.analyze_attributes(rgb, new)
        if new:
            self.info = {"avatar": self.name, "reason": describe(new[0]) if self.needs_attributes else "",
                         "suggestion": suggest(new[0]) if self.needs_attributes else None}
        self.seen.update(f.track_id for f in faces)
        if self.state is not None:
            out = self.fx.composite(rgb, faces, self.state, prepared=prepared)
        else:
            out = self.fx.composite(rgb, faces, temporal=True)
        return out[:, :, :3] if out.ndim == 3 and out.shape[2] == 4 else out

    def take_info(self) -> dict | None:
        info, self.info = self.info, None
        return info

    def close(self) -> None:
        """Release the avatar effect and its GL objects (GL thread)."""
        self.fx.close()
        self.state = None

    def __enter__(self) -> "LiveAvatar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def session(avatar: str, mode: str, analyze_attributes=None, profile=None) -> LiveAvatar:
    """A live avatar stream (``analyze_attributes(rgb, faces)`` fills in attributes of new faces;
    ``profile``: a calibration profile JSON from ``faceplay track --calibrate``)."""
    driver = None
    if profile is not None:
        from faceplay.creator.profile import load_profile

        driver = load_profile(profile).driver_settings()
    return LiveAvatar(avatar, mode, analyze_attributes, driver=driver)

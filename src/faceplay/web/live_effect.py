"""Per-connection state of a live session (``/ws/live/{effect}``): tracking, then the effect.

:class:`LiveEffect` holds what one socket owns (its face tracker, its live effect
session, settings); the loop in :mod:`faceplay.web.live` calls it on the engines'
track and GL threads, and ``faceplay bench web`` calls :meth:`LiveEffect.process`
directly as its baseline. The effect comes from :data:`LIVE_EFFECTS` (no branch per
effect); each runs through the Effect contract with a LIVE state, so the page gets
the same live budget as ``faceplay`` streams.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from faceplay.web.effects import build_rig, decode_jpeg_frame
from faceplay.web.engines import Engines
from faceplay.web.errors import HTTPError

log = logging.getLogger(__name__)


class RelightLive:
    """Live relighting: a :class:`~faceplay.relight.effect.RelightEffect` on the shared live relighter, one LIVE state."""

    def __init__(self, engines: Engines, attributes) -> None:
        self.engines = engines
        self.fx = None
        self.state = None

    def configure(self, s: dict[str, Any]) -> dict[str, Any] | None:
        from faceplay.relight.effect import RelightEffect

        try:
            az = None if s.get("az") is None else float(s["az"])
            el = None if s.get("el") is None else float(s["el"])
            inten = None if s.get("intensity") is None else float(s["intensity"])
            strength = float(s.get("strength", 0.8))
        except (TypeError, ValueError) as exc:
            raise HTTPError(400, "az, el, intensity and strength must be numbers") from exc
        if not 0.0 <= strength <= 1.0:
            raise HTTPError(400, "strength must be between 0 and 1")
        rig = build_rig(str(s.get("preset") or "studio")[:40], az, el, s.get("color"), inten)
        s["strength"] = strength
        if self.fx is None:  # the state (smoothed light, maps) survives a change of settings
            self.fx = RelightEffect(rig, strength, video_relighter=self.engines.live_relighter())
            self.state = self.fx.new_state("live")
        self.fx.rig, self.fx.strength = rig, strength
        return {"type": "info", "rig": rig.name}

    def prepare(self, frame, faces) -> None:
        """Track thread: nothing to do ahead for relighting."""

    def apply(self, frame, faces) -> tuple[Any, dict | None]:
        return self.fx.apply(frame, faces, self.state), None

    def close(self) -> None:
        if self.fx is not None:
            self.fx.close()  # the shared live relighter is not the effect's: it stays open
        self.fx = self.state = None


class AvatarLive:
    """Live avatar: :class:`~faceplay.web.avatar_glue.LiveAvatar` (an AvatarEffect with one LIVE state)."""

    def __init__(self, engines: Engines, attributes) -> None:
        self.attributes = attributes
        self.profile = engines.settings.profile
        self.session = None
        self.choice: tuple[str, str] | None = None

    def configure(self, s: dict[str, Any]) -> dict[str, Any] | None:
        from faceplay.web import avatar_glue

        choice = (str(s.get("avatar", "auto")), str(s.get("mode", "replace")))
        avatar_glue.check_choice(*choice)
        if choice != self.choice:
            self.close()
            self.choice = choice
        return None

    def prepare(self, frame, faces) -> None:
        """Track thread: the head matte for head removal, one frame ahead of the GL thread (once the
        session exists; a session replaced meanwhile still gets a valid matte of this frame)."""
        session = self.session
        if session is not None:
            session.prepare(frame, faces)

    def apply(self, frame, faces) -> tuple[Any, dict | None]:
        from faceplay.web import avatar_glue

        if self.session is None:
            self.session = avatar_glue.session(*(self.choice or ("auto", "replace")), self.attributes, self.profile)
        return self.session.frame(frame.rgb, faces, frame.get("person_matte")), self.session.take_info()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None


#: live effect name (as in faceplay.effects.EFFECTS) -> its live session; /ws/live/{name} serves these
LIVE_EFFECTS: dict[str, type] = {"avatar": AvatarLive, "relight": RelightLive}


class LiveEffect:
    """Per-connection state; every method runs on the engines' gl thread."""

    def __init__(self, effect: str, engines: Engines) -> None:
        self.effect = effect
        self.engines = engines
        self.tracker = None
        self.live = LIVE_EFFECTS[effect](engines, self._attributes)
        self.settings: dict[str, Any] = {"preset": "studio", "strength": 0.8}
        self.configured = False
        self.t0 = time.monotonic()
        self.last_ts = -1.0

    def configure(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Apply a settings message (raises HTTPError(400) on bad values); may answer an info dict."""
        s = {**self.settings}
        for k in ("preset", "az", "el", "color", "intensity", "strength", "avatar", "mode"):
            if k in msg:
                s[k] = msg[k]
        info = self.live.configure(s)
        self.settings, self.configured = s, True
        return info

    def track(self, jpeg: bytes, max_pixels: int):
        """Stage 1 (track thread): decode the JPEG, track the face and do the effect's GL-free work
        for this frame (:meth:`Effect.prepare`). Returns (frame, faces)."""
        from faceplay.media.frame import Frame

        rgb = decode_jpeg_frame(jpeg, max_pixels)
        if self.tracker is None:
            from faceplay.face.track import FaceTracker

            self.tracker = FaceTracker(max_faces=1)
        ts = max(time.monotonic() - self.t0, self.last_ts + 1e-3)
        self.last_ts = ts
        frame = Frame(rgb, timestamp=ts)
        faces = self.tracker.update(rgb, ts)
        self.live.prepare(frame, faces)
        return frame, faces

    def render(self, frame, faces, quality: int) -> tuple[bytes, int, dict | None]:
        """Stage 2 (gl thread): apply the effect and encode the JPEG. Returns (jpeg, faces, info)."""
        import cv2

        if not self.configured:
            self.configure({})
        out, info = self.live.apply(frame, faces)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        return buf.tobytes(), len(faces), info

    def _attributes(self, rgb, faces) -> None:
        from faceplay.avatar.configure import ATTRIBUTE_FIELDS
        from faceplay.errors import FaceplayError

        try:
            self.engines.complete(rgb, faces, ATTRIBUTE_FIELDS)
        except FaceplayError as exc:  # the avatar keeps its defaults
            log.warning("face attributes unavailable: %s", exc)

    def process(self, jpeg: bytes, max_pixels: int, quality: int) -> tuple[bytes, int, dict | None]:
        """Both stages on the calling thread (benchmark baseline)."""
        frame, faces = self.track(jpeg, max_pixels)
        return self.render(frame, faces, quality)

    def close_track(self) -> None:
        """Release the tracker (track thread, where it ran)."""
        if self.tracker is not None:
            try:
                self.tracker.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.warning("closing a live tracker failed: %s", exc)
            self.tracker = None

    def close_render(self) -> None:
        """Release the avatar / relight state (gl thread, where they ran)."""
        try:
            self.live.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            log.warning("closing a live %s session failed: %s", self.effect, exc)

    def close(self) -> None:
        """Release everything from the calling thread (benchmark baseline)."""
        self.close_track()
        self.close_render()

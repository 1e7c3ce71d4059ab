"""Per-connection state of a live session (``/ws/live/{effect}``): tracking, then the effect.

:class:`LiveEffect` holds what one socket owns (its face tracker, avatar or relight
state, settings); the loop in :mod:`faceplay.web.live` calls it on the engines'
track and GL threads, and ``faceplay bench web`` calls :meth:`LiveEffect.process`
directly as its baseline.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from faceplay.web.effects import build_rig, decode_jpeg_frame
from faceplay.web.engines import Engines
from faceplay.web.errors import HTTPError

log = logging.getLogger(__name__)


class LiveEffect:
    """Per-connection state; every method runs on the engines' gl thread."""

    def __init__(self, effect: str, engines: Engines) -> None:
        self.effect = effect
        self.engines = engines
        self.tracker = None
        self.relight_state = None
        self.avatar = None
        self.settings: dict[str, Any] = {"preset": "studio", "strength": 0.8}
        self.rig = None
        self.t0 = time.monotonic()
        self.last_ts = -1.0

    def configure(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Apply a settings message (raises HTTPError(400) on bad values); may answer an info dict."""
        s = {**self.settings}
        for k in ("preset", "az", "el", "color", "intensity", "strength", "avatar", "mode"):
            if k in msg:
                s[k] = msg[k]
        if self.effect == "relight":
            try:
                az = None if s.get("az") is None else float(s["az"])
                el = None if s.get("el") is None else float(s["el"])
                inten = None if s.get("intensity") is None else float(s["intensity"])
                strength = float(s.get("strength", 0.8))
            except (TypeError, ValueError) as exc:
                raise HTTPError(400, "az, el, intensity and strength must be numbers") from exc
            if not 0.0 <= strength <= 1.0:
                raise HTTPError(400, "strength must be between 0 and 1")
            self.rig = build_rig(str(s.get("preset") or "studio")[:40], az, el, s.get("color"), inten)
            s["strength"] = strength
            self.settings = s
            return {"type": "info", "rig": self.rig.name}
        from faceplay.web import avatar_glue

        avatar_glue.check_choice(str(s.get("avatar", "auto")), str(s.get("mode", "replace")))
        changed = (s.get("avatar"), s.get("mode")) != (self.settings.get("avatar"), self.settings.get("mode"))
        self.settings = s
        if changed and self.avatar is not None:
            self.avatar.close()
            self.avatar = None
        return None

    def track(self, jpeg: bytes, max_pixels: int):
        """Stage 1 (track thread): decode the JPEG and track the face. Returns (rgb, faces)."""
        rgb = decode_jpeg_frame(jpeg, max_pixels)
        if self.tracker is None:
            from faceplay.face.track import FaceTracker

            self.tracker = FaceTracker(max_faces=1)
        ts = max(time.monotonic() - self.t0, self.last_ts + 1e-3)
        self.last_ts = ts
        return rgb, self.tracker.update(rgb, ts)

    def render(self, rgb, faces, quality: int) -> tuple[bytes, int, dict | None]:
        """Stage 2 (gl thread): apply the effect and encode the JPEG. Returns (jpeg, faces, info)."""
        import cv2

        info = None
        if self.effect == "relight":
            if self.relight_state is None:
                from faceplay.relight.relighter import RelightState

                self.relight_state = RelightState()
            if self.rig is None:
                self.configure({})
            relighter = self.engines.live_relighter()
            out = relighter.relight(rgb, faces, self.rig, self.settings["strength"], state=self.relight_state).image
        else:
            from faceplay.web import avatar_glue

            if self.avatar is None:
                self.avatar = avatar_glue.session(str(self.settings.get("avatar", "auto")),
                                                  str(self.settings.get("mode", "replace")), self._attributes)
            out = self.avatar.frame(rgb, faces)
            info = self.avatar.take_info()
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
        rgb, faces = self.track(jpeg, max_pixels)
        return self.render(rgb, faces, quality)

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
        if self.avatar is not None:
            try:
                self.avatar.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing a live avatar failed: %s", exc)
        self.avatar = None
        self.relight_state = None

    def close(self) -> None:
        """Release everything from the calling thread (benchmark baseline)."""
        self.close_track()
        self.close_render()

"""The live loop: browser camera frames in over a WebSocket, effect frames out.

Protocol (``/ws/live/{effect}``, effect = ``avatar`` | ``relight``):

* client → server, binary: ``uint32 frame id`` (little endian) + a JPEG frame;
* client → server, text: JSON settings, e.g. ``{"type": "settings", "preset": "rim"}``
  or ``{"type": "settings", "az": -60, "el": 10, "color": "#ffddaa"}``;
* server → client, binary: a 16-byte header ``uint32 id, float32 server_ms,
  uint32 dropped_total, uint32 faces`` + the JPEG of the processed frame;
* server → client, text JSON: ``{"type": "dropped", "id": n, "dropped": total}``
  when a frame was skipped, ``{"type": "info", ...}`` and ``{"type": "error", "error": msg}``.

Only the latest frame of each connection is processed: a frame that arrives
while the previous one is still being processed replaces any frame waiting,
and the replaced one is reported as dropped. Latency therefore stays bounded
(one frame of work plus the wait for the shared worker) however busy the CPU is.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import struct
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from faceplay.web.effects import build_rig, decode_jpeg_frame
from faceplay.web.engines import Engines, feature_available
from faceplay.web.errors import HTTPError

log = logging.getLogger(__name__)
router = APIRouter()
HEADER = struct.Struct("<IfII")
EFFECTS = ("avatar", "relight")


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


@router.websocket("/ws/live/{effect}")
async def live(ws: WebSocket, effect: str) -> None:
    """The live avatar / relight loop (see the module docstring for the protocol)."""
    app = ws.app
    settings = app.state.settings
    if settings.token and not hmac.compare_digest(ws.query_params.get("token", "").encode(), settings.token.encode()):
        await ws.close(code=1008, reason="missing or wrong token; open the page with ?token=...")
        return
    if effect not in EFFECTS:
        await ws.close(code=1008, reason=f"unknown effect {effect[:30]!r}; use avatar or relight")
        return
    await ws.accept()
    if not feature_available(effect):
        await ws.send_json({"type": "error", "fatal": True,
                            "error": f"the {effect} feature is not installed in this faceplay build"})
        await ws.close(code=1011)
        return
    if app.state.live_sessions >= settings.max_live_sessions:
        await ws.send_json({"type": "error", "fatal": True,
                            "error": f"the server is busy ({settings.max_live_sessions} live sessions); try again later"})
        await ws.close(code=1013)
        return
    app.state.live_sessions += 1
    engines: Engines = app.state.engines
    fx = LiveEffect(effect, engines)
    session = _Session(ws, fx, engines, settings)
    try:
        await session.run()
    finally:
        app.state.live_sessions -= 1
        await engines.on_track(fx.close_track)
        await engines.on_gl(fx.close_render)


class _Session:
    def __init__(self, ws: WebSocket, fx: LiveEffect, engines: Engines, settings) -> None:
        self.ws, self.fx, self.engines, self.settings = ws, fx, engines, settings
        self.latest: tuple[int, bytes] | None = None
        self.ready = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.dropped = 0
        self.processed = 0
        self.closed = False

    async def send_json(self, obj: dict) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(obj))

    async def run(self) -> None:
        worker = asyncio.create_task(self.work())
        try:
            await self.receive()
        finally:
            self.closed = True
            self.ready.set()
            await worker

    async def receive(self) -> None:
        while True:
            try:
                msg = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if msg.get("type") == "websocket.disconnect":
                return
            data = msg.get("bytes")
            if data is not None:
                if len(data) < 5 or len(data) > 8 * 1024 * 1024:
                    await self.send_json({"type": "error", "error": "a frame must be a 4-byte id plus a JPEG (< 8 MB)"})
                    continue
                fid = struct.unpack_from("<I", data)[0]
                if self.latest is not None:  # the waiting frame is stale: drop it
                    self.dropped += 1
                    await self.send_json({"type": "dropped", "id": self.latest[0], "dropped": self.dropped})
                self.latest = (fid, data[4:])
                self.ready.set()
                continue
            text = msg.get("text")
            if text is not None:
                try:
                    obj = json.loads(text)
                    if not isinstance(obj, dict):
                        raise ValueError
                except ValueError:
                    await self.send_json({"type": "error", "error": "settings must be a JSON object"})
                    continue
                try:
                    info = await self.engines.on_gl(self.fx.configure, obj)
                    await self.send_json(info or {"type": "info", "settings": "ok"})
                except HTTPError as exc:
                    await self.send_json({"type": "error", "error": exc.message})
                except Exception as exc:  # noqa: BLE001 - report, keep the session
                    await self.send_json({"type": "error", "error": str(exc)})

    async def work(self) -> None:
        """Take the newest frame, track it, hand it to the render stage, repeat.

        At most two frames of a session are in the pipeline (one tracking, one
        rendering); frames arriving meanwhile replace the waiting one (dropped).
        """
        previous: asyncio.Task | None = None
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                if self.closed:
                    return
                item, self.latest = self.latest, None
                if item is None:
                    continue
                fid, jpeg = item
                t0 = time.perf_counter()
                try:
                    rgb, faces = await self.engines.on_track(self.fx.track, jpeg, self.settings.max_frame_pixels)
                except ValueError as exc:
                    await self._safe_json({"type": "error", "error": str(exc), "id": fid})
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad frame must not end the session
                    log.exception("live %s tracking failed", self.fx.effect)
                    await self._safe_json({"type": "error", "error": f"{type(exc).__name__}: {exc}", "id": fid})
                    continue
                if previous is not None:
                    await previous  # keep frame order and at most one frame waiting to render
                previous = asyncio.create_task(self.finish(fid, rgb, faces, t0))
                if self.latest is not None:
                    self.ready.set()
        finally:
            if previous is not None:
                await previous

    async def finish(self, fid: int, rgb, faces, t0: float) -> None:
        """Stage 2: render + send (runs while the next frame is being tracked)."""
        try:
            out, n_faces, info = await self.engines.on_gl(self.fx.render, rgb, faces, self.settings.live_jpeg_quality)
        except Exception as exc:  # noqa: BLE001
            log.exception("live %s frame failed", self.fx.effect)
            await self._safe_json({"type": "error", "error": f"{type(exc).__name__}: {exc}", "id": fid})
            return
        ms = (time.perf_counter() - t0) * 1000.0
        self.processed += 1
        try:
            async with self.send_lock:
                await self.ws.send_bytes(HEADER.pack(fid, ms, self.dropped, n_faces) + out)
            if info:
                await self.send_json({"type": "info", **info})
        except Exception:  # noqa: BLE001 - the client went away
            pass

    async def _safe_json(self, obj: dict) -> None:
        try:
            await self.send_json(obj)
        except Exception:  # noqa: BLE001
            pass

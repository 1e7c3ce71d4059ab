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

Limits (:class:`~faceplay.web.config.Settings`): a socket that sends no camera
frame for ``live_idle_seconds`` or lives longer than ``live_max_seconds`` gets a
fatal error message and close code 1008 with the reason; a text message over
``max_ws_text_bytes`` closes with 1009; a binary one over ``max_frame_bytes`` or
JSON nested deeper than ``max_json_depth`` is answered with an error message.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import struct
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from faceplay.web.engines import Engines, feature_available
from faceplay.web.errors import HTTPError, public_message

from faceplay.web.live_effect import LIVE_EFFECTS, LiveEffect

__all__ = ["EFFECTS", "HEADER", "LiveEffect", "json_depth_ok", "router"]
log = logging.getLogger(__name__)
router = APIRouter()
HEADER = struct.Struct("<IfII")
EFFECTS = tuple(LIVE_EFFECTS)  #: the live effects, from the registry in live_effect


@router.websocket("/ws/live/{effect}")
async def live(ws: WebSocket, effect: str) -> None:
    """The live avatar / relight loop (see the module docstring for the protocol)."""
    app = ws.app
    settings = app.state.settings
    token = settings.token_bytes  # compared as UTF-8 bytes, like the bearer header
    if token and not hmac.compare_digest(ws.query_params.get("token", "").encode("utf-8", "replace"), token):
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
        await ws.close(code=1013, reason="the server is busy; try again later")
        return
    app.state.live_sessions += 1
    engines: Engines = app.state.engines
    fx = LiveEffect(effect, engines)
    session = _Session(ws, fx, engines, settings)
    try:
        await session.run()
    except Exception as exc:  # noqa: BLE001 - a session error must never reach the client as a traceback
        log.error("live %s session failed: %s: %s", effect, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        await session.close(1011, "internal error; see the server log and reconnect")
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
        self.close_sent = False

    async def send_json(self, obj: dict) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(obj))

    async def close(self, code: int, reason: str) -> None:
        """Tell the client why (fatal error message), then close with ``code`` and the reason."""
        if self.close_sent:
            return
        self.close_sent = self.closed = True
        self.ready.set()
        try:
            async with self.send_lock:
                await self.ws.send_text(json.dumps({"type": "error", "fatal": True, "error": reason}))
                await self.ws.close(code=code, reason=reason[:120])
        except Exception:  # noqa: BLE001 - the client is already gone
            pass

    async def run(self) -> None:
        worker = asyncio.create_task(self.work())
        try:
            await self.receive()
        finally:
            self.closed = True
            self.ready.set()
            await worker

    async def receive(self) -> None:
        s = self.settings
        start = last_frame = time.monotonic()
        while not self.closed:
            now = time.monotonic()
            if now - start >= s.live_max_seconds:
                await self.close(1008, f"the session reached its {_duration(s.live_max_seconds)} limit; "
                                       "reconnect to continue")
                return
            if now - last_frame >= s.live_idle_seconds:
                await self.close(1008, f"no camera frame for {_duration(s.live_idle_seconds)}; "
                                       "the session was closed, reconnect to continue")
                return
            wait = min(s.live_max_seconds - (now - start), s.live_idle_seconds - (now - last_frame))
            try:
                msg = await asyncio.wait_for(self.ws.receive(), timeout=max(wait, 0.01))
            except asyncio.TimeoutError:
                continue
            except (WebSocketDisconnect, RuntimeError):
                return
            if msg.get("type") == "websocket.disconnect":
                return
            data = msg.get("bytes")
            if data is not None:
                if len(data) < 5 or len(data) > s.max_frame_bytes:
                    await self.send_json({"type": "error", "error": "a frame must be a 4-byte id plus a JPEG "
                                                                    f"(< {s.max_frame_bytes / 1e6:.0f} MB)"})
                    continue
                last_frame = time.monotonic()
                fid = struct.unpack_from("<I", data)[0]
                if self.latest is not None:  # the waiting frame is stale: drop it
                    self.dropped += 1
                    await self.send_json({"type": "dropped", "id": self.latest[0], "dropped": self.dropped})
                self.latest = (fid, data[4:])
                self.ready.set()
                continue
            text = msg.get("text")
            if text is not None:
                if len(text) > s.max_ws_text_bytes or len(text.encode("utf-8", "replace")) > s.max_ws_text_bytes:
                    await self.close(1009, f"a settings message must be under {s.max_ws_text_bytes // 1024} KB")
                    return
                if not json_depth_ok(text, s.max_json_depth):
                    await self.send_json({"type": "error", "error": "settings must be a flat JSON object "
                                                                    f"(nested over {s.max_json_depth} levels)"})
                    continue
                try:
                    obj = json.loads(text)
                    if not isinstance(obj, dict):
                        raise ValueError
                except (ValueError, RecursionError):
                    await self.send_json({"type": "error", "error": "settings must be a JSON object"})
                    continue
                try:
                    info = await self.engines.on_gl(self.fx.configure, obj)
                    await self.send_json(info or {"type": "info", "settings": "ok"})
                except HTTPError as exc:
                    await self.send_json({"type": "error", "error": public_message(exc.message)})
                except Exception as exc:  # noqa: BLE001 - report, keep the session
                    await self.send_json({"type": "error", "error": public_message(str(exc))})

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
                    frame, faces = await self.engines.on_track(self.fx.track, jpeg, self.settings.max_frame_pixels)
                except ValueError as exc:
                    await self._safe_json({"type": "error", "error": public_message(str(exc)), "id": fid})
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad frame must not end the session
                    log.exception("live %s tracking failed", self.fx.effect)
                    await self._safe_json({"type": "error", "error": _frame_error(exc), "id": fid})
                    continue
                if previous is not None:
                    await previous  # keep frame order and at most one frame waiting to render
                previous = asyncio.create_task(self.finish(fid, frame, faces, t0))
                if self.latest is not None:
                    self.ready.set()
        finally:
            if previous is not None:
                await previous

    async def finish(self, fid: int, frame, faces, t0: float) -> None:
        """Stage 2: render + send (runs while the next frame is being tracked)."""
        try:
            out, n_faces, info = await self.engines.on_gl(self.fx.render, frame, faces, self.settings.live_jpeg_quality)
        except Exception as exc:  # noqa: BLE001
            log.exception("live %s frame failed", self.fx.effect)
            await self._safe_json({"type": "error", "error": _frame_error(exc), "id": fid})
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


def _frame_error(exc: Exception) -> str:
    from faceplay.errors import FaceplayError

    if isinstance(exc, FaceplayError):
        return public_message(str(exc))
    return f"this frame failed ({type(exc).__name__}); see the server log"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 120 and seconds % 60 == 0 else f"{seconds:g} s"


def json_depth_ok(text: str, limit: int) -> bool:
    """Whether the JSON ``text`` nests arrays / objects at most ``limit`` deep (strings are skipped).

    Checked before ``json.loads``, whose recursion would otherwise fail on deep input.
    """
    if text.count("[") + text.count("{") <= limit:  # the common case, at C speed
        return True
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True

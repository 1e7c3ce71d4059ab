"""Bounded load on a local faceplay server (loopback only): concurrent REST clients and live WebSocket clients.

Used by ``faceplay bench web`` (60 s soaks: steady streams, and sessions opened and closed
over and over) and by short tests. Every loop
stops by itself after ``seconds``; only ``127.0.0.1`` / ``localhost`` URLs are accepted.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import numpy as np

from faceplay.errors import ConfigError

HEADER = struct.Struct("<IfII")


def _check_local(url: str) -> None:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"load tests only target this machine (127.0.0.1 / localhost), not {host}")


@dataclass
class LoadResult:
    """Latencies and outcomes of one load run."""

    name: str
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    dropped: int = 0
    sent: int = 0

    def summary(self) -> dict:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        n = len(self.latencies_ms)
        return {
            "name": self.name, "clients": self.clients, "seconds": round(self.seconds, 1), "completed": n,
            "per_second": round(n / self.seconds, 2) if self.seconds else None,
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "max_ms": round(float(lat.max()), 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "server_errors": sum(v for k, v in self.statuses.items() if k >= 500),
            "errors": self.errors[:5], "n_errors": len(self.errors), "sent": self.sent, "dropped": self.dropped,
        }


async def load_rest(url: str, path: str, files: dict, *, clients: int = 20, seconds: float = 60.0,
                    token: str | None = None, name: str | None = None) -> LoadResult:
    """``clients`` concurrent loops POSTing ``files`` to ``url + path`` for ``seconds``."""
    import httpx

    _check_local(url)
    res = LoadResult(name or f"POST {path}", clients, seconds)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    stop = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                r = await client.post(url + path, files=files, headers=headers)
                res.statuses[r.status_code] = res.statuses.get(r.status_code, 0) + 1
                if r.status_code < 400:
                    res.latencies_ms.append((time.perf_counter() - t0) * 1000)
            except Exception as exc:  # noqa: BLE001 - count transport failures
                res.errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)

    t0 = time.monotonic()
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    res.seconds = time.monotonic() - t0
    return res


async def load_live(url: str, effect: str, frames: list[bytes], *, clients: int = 20, seconds: float = 60.0,
                    fps: float = 30.0, window: int = 3, token: str | None = None) -> LoadResult:
    """``clients`` live sessions, each sending camera-rate frames like the page (at most ``window`` in flight)."""
    import websockets

    _check_local(url)
    ws_url = url.replace("http://", "ws://") + f"/ws/live/{effect}" + (f"?token={token}" if token else "")
    res = LoadResult(f"WS /ws/live/{effect}", clients, seconds)
    stop = time.monotonic() + seconds

    async def one(k: int) -> None:
        sent: dict[int, float] = {}
        fid = 0
        try:
            async with websockets.connect(ws_url, max_size=16 * 1024 * 1024, open_timeout=60) as ws:
                async def reader():
                    async for msg in ws:
                        if isinstance(msg, bytes):
                            i, _ms, _tot, _faces = HEADER.unpack_from(msg)
                            t = sent.pop(i, None)
                            if t is not None:
                                res.latencies_ms.append((time.perf_counter() - t) * 1000)
                        else:
                            d = json.loads(msg)
                            if d.get("type") == "dropped":
                                sent.pop(d["id"], None)
                                res.dropped += 1
                            elif d.get("type") == "error":
                                res.errors.append(d.get("error", "?"))
                                if d.get("fatal"):
                                    return
                                sent.pop(d.get("id"), None)

                rtask = asyncio.create_task(reader())
                while time.monotonic() < stop and not rtask.done():
                    if len(sent) < window:
                        fid += 1
                        sent[fid] = time.perf_counter()
                        res.sent += 1
                        await ws.send(struct.pack("<I", fid) + frames[(fid + k) % len(frames)])
                    await asyncio.sleep(1.0 / fps)
                await ws.close()
                rtask.cancel()
        except Exception as exc:  # noqa: BLE001
            res.errors.append(f"{type(exc).__name__}: {exc}")

    t0 = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(clients)))
    res.seconds = time.monotonic() - t0
    res.statuses = {101: clients - sum(1 for e in res.errors if "Error" in e.split(":")[0])}
    return res


async def load_churn(url: str, effect: str, frames: list[bytes], *, clients: int = 20, seconds: float = 60.0,
                     frames_per_session: int = 3, token: str | None = None) -> LoadResult:
    """``clients`` loops that each open a live session, send ``frames_per_session`` frames one at a time
    (waiting for each answer), close it and start again, for ``seconds``.

    Latencies are whole sessions (connect to close). ``statuses``: 101 completed sessions, 503 sessions
    refused as busy (close 1013), 500 sessions ended by a server error (close 1011 or a 5xx handshake).
    """
    import websockets

    _check_local(url)
    ws_url = url.replace("http://", "ws://") + f"/ws/live/{effect}" + (f"?token={token}" if token else "")
    res = LoadResult(f"WS /ws/live/{effect} open/close ({frames_per_session} frames)", clients, seconds)
    stop = time.monotonic() + seconds

    def count(status: int) -> None:
        res.statuses[status] = res.statuses.get(status, 0) + 1

    async def session(k: int) -> None:
        t0 = time.perf_counter()
        async with websockets.connect(ws_url, max_size=16 * 1024 * 1024, open_timeout=60) as ws:
            for i in range(1, frames_per_session + 1):
                res.sent += 1
                await ws.send(struct.pack("<I", i) + frames[(k + i) % len(frames)])
                while True:
                    msg = await asyncio.wait_for(ws.recv(), 120)
                    if isinstance(msg, bytes):
                        break
                    d = json.loads(msg)
                    if d.get("type") == "error":
                        if d.get("fatal"):
                            raise _Refused(503 if "busy" in d.get("error", "") else 500, d.get("error", ""))
                        res.errors.append(d.get("error", "?"))
                        break
        res.latencies_ms.append((time.perf_counter() - t0) * 1000)
        count(101)

    async def one(k: int) -> None:
        while time.monotonic() < stop:
            try:
                await session(k)
            except _Refused as exc:
                count(exc.status)
                res.errors.append(exc.message)
                await asyncio.sleep(0.2)
            except websockets.ConnectionClosed as exc:
                count(500 if exc.rcvd and exc.rcvd.code == 1011 else 503 if exc.rcvd and exc.rcvd.code == 1013 else 499)
                res.errors.append(f"closed: {exc}")
            except websockets.InvalidStatus as exc:
                count(exc.response.status_code)
                res.errors.append(f"handshake: {exc.response.status_code}")
            except Exception as exc:  # noqa: BLE001 - count transport failures
                res.errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.2)

    t0 = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(clients)))
    res.seconds = time.monotonic() - t0
    return res


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def process_rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (Linux ``/proc``), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def camera_frames(video, n: int = 30, width: int = 640, height: int = 480) -> list[bytes]:
    """``n`` JPEG frames (letterboxed to width x height) from a real video, as a browser would send them."""
    import cv2

    from faceplay.media.video import VideoReader

    out: list[bytes] = []
    with VideoReader(video) as r:
        for f in r:
            rgb = f.rgb
            s = min(width / rgb.shape[1], height / rgb.shape[0])
            w, h = int(rgb.shape[1] * s), int(rgb.shape[0] * s)
            canvas = np.full((height, width, 3), 96, np.uint8)
            x, y = (width - w) // 2, (height - h) // 2
            canvas[y:y + h, x:x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
            out.append(buf.tobytes())
            if len(out) >= n:
                break
    return out


def run_sync(coro):
    """Run a load coroutine to completion from synchronous code, even where an event loop is already
    running in this thread (e.g. under Playwright's sync API): it gets a thread of its own."""
    import threading

    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    t = threading.Thread(target=target, name="faceplay-load")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]

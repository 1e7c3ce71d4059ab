"""Issue 14 #3: live avatar sessions release what they hold (renderer, GL objects, tracker graph).

50 sequential sessions through `faceplay serve` on 127.0.0.1 (connect, pick an avatar, 3 frames,
close); the server process's RSS after session 50 minus after session 10 must stay within
0.5 MB per session. Before the fix each session kept ~5.5 MB.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time

import httpx
import pytest

from faceplay.web.loadtest import run_sync

websockets = pytest.importorskip("websockets")
pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)


async def _session(url: str, frames: list[bytes]) -> int:
    """One live avatar session like the page's: settings, 3 frames one at a time, close. Returns faces seen."""
    faces = 0
    async with websockets.connect(url, max_size=16 * 1024 * 1024, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "settings", "avatar": "robot", "mode": "replace"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] == "info"
        for i, jpeg in enumerate(frames, 1):
            await ws.send(struct.pack("<I", i) + jpeg)
            while True:
                m = await asyncio.wait_for(ws.recv(), 60)
                if isinstance(m, bytes):
                    assert struct.unpack_from("<I", m)[0] == i
                    faces += struct.unpack_from("<I", m, 12)[0]
                    break
                d = json.loads(m)
                assert d["type"] != "error", d
    return faces


def _settled(url: str) -> None:
    """Wait until the server has closed every session (the clean-up runs after the socket closed)."""
    for _ in range(200):
        if httpx.get(url + "/api/health", timeout=10).json()["live_sessions"] == 0:
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the GL-thread clean-up of the last session


def test_live_avatar_sessions_do_not_grow_rss(tmp_path, videos_dir):
    from faceplay.bench.web import start_server, stop_server
    from faceplay.web.engines import feature_available
    from faceplay.web.harness import free_port
    from faceplay.web.loadtest import camera_frames, process_rss_mb

    if not feature_available("avatar"):
        pytest.skip("the avatar module is not in this build")
    frames = camera_frames(videos_dir / "talking_d0.mp4", 3)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ws_url = f"ws://127.0.0.1:{port}/ws/live/avatar"
    proc = start_server(tmp_path / "data", port)  # `faceplay serve`: its RSS is the server's alone
    try:
        async def run(n: int) -> int:
            return sum([await _session(ws_url, frames) for _ in range(n)])

        assert run_sync(run(10)) > 0  # the avatar follows a real face
        _settled(url)
        r10 = process_rss_mb(proc.pid)
        t0 = time.monotonic()
        run_sync(run(40))
        _settled(url)
        r50 = process_rss_mb(proc.pid)
    finally:
        stopped = stop_server(proc)
    assert stopped["exit_code"] == 0, stopped
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
    per_session = (r50 - r10) / 40
    log.info("server RSS after 10 sessions %.1f MB, after 50 %.1f MB: %.3f MB/session (%.1f s)",
             r10, r50, per_session, time.monotonic() - t0)
    assert per_session <= 0.5, f"RSS grew {per_session:.2f} MB per live avatar session ({r10:.0f} -> {r50:.0f} MB)"

"""A short bounded load (loopback only): 20 concurrent clients on analyze and on the live WebSocket.

The 60-second soak with p50/p99 figures is `faceplay bench web` (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow


def test_20_clients_analyze_and_live_no_5xx(live_server, client, faces_dir, videos_dir):
    from faceplay.web.loadtest import camera_frames, load_live, load_rest, run_sync

    photo = faces_dir / "obama_obama.jpg"
    files = {"file": (photo.name, photo.read_bytes(), "image/jpeg")}
    rest = run_sync(load_rest(live_server.url, "/api/analyze?fields=", files, clients=20, seconds=3)).summary()
    assert rest["server_errors"] == 0 and rest["n_errors"] == 0, rest
    assert rest["completed"] > 0 and set(rest["statuses"]) == {"200"}, rest

    effect = "avatar" if client.get("/api/health").json()["features"]["avatar"] else "relight"
    frames = camera_frames(videos_dir / "talking_d0.mp4", 12)
    live = run_sync(load_live(live_server.url, effect, frames, clients=20, seconds=4)).summary()
    assert live["n_errors"] == 0, live
    assert live["completed"] > 0, live
    assert live["dropped"] > 0  # 20 camera-rate streams overload 2 cores: stale frames are dropped, not queued
    for _ in range(100):  # every session is cleaned up once its client has gone
        h = client.get("/api/health")
        assert h.status_code == 200
        if h.json()["live_sessions"] == 0:
            break
        time.sleep(0.1)
    assert h.json()["live_sessions"] == 0


def test_20_clients_opening_and_closing_live_sessions(live_server, client, videos_dir):
    """The session soak of `faceplay bench web`, bounded: sessions open and close, no 5xx, none left open."""
    from faceplay.web.loadtest import camera_frames, load_churn, run_sync

    effect = "avatar" if client.get("/api/health").json()["features"]["avatar"] else "relight"
    frames = camera_frames(videos_dir / "talking_d0.mp4", 6)
    churn = run_sync(load_churn(live_server.url, effect, frames, clients=20, seconds=4)).summary()
    assert churn["server_errors"] == 0 and churn["n_errors"] == 0, churn
    assert churn["completed"] >= 20 and set(churn["statuses"]) == {"101"}, churn
    for _ in range(100):
        h = client.get("/api/health").json()
        if h["live_sessions"] == 0:
            break
        time.sleep(0.1)
    assert h["live_sessions"] == 0

"""What a careful server promises (issue 14): live socket time limits, message limits, a bounded job
queue, no leftovers after shut-down or a crash, no server paths in errors, one token encoding.

Each test runs its own app on a real uvicorn server on 127.0.0.1 with small limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time

import httpx
import pytest

from faceplay.web.app import create_app
from faceplay.web.config import Settings
from faceplay.web.harness import ServerThread
from faceplay.web.loadtest import run_sync
from tests.web.conftest import wait_job

websockets = pytest.importorskip("websockets")


def _ws_url(srv, effect: str = "relight", query: str = "") -> str:
    return srv.url.replace("http://", "ws://") + f"/ws/live/{effect}" + query


async def _closed_with(ws) -> tuple[int | None, str, list[dict]]:
    """Read until the server closes: (close code, reason, the JSON messages before it)."""
    msgs = []
    try:
        async for m in ws:
            if isinstance(m, str):
                msgs.append(json.loads(m))
    except websockets.ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason or "", msgs


@pytest.fixture()
def no_tracebacks(caplog):
    """Fails the test when anything was logged with a traceback (or a RecursionError) meanwhile."""
    caplog.set_level(logging.WARNING)
    yield caplog
    bad = [r for r in caplog.records if r.exc_info or "RecursionError" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad]


def test_idle_sockets_are_closed_and_free_their_slot(tmp_path, no_tracebacks):
    """Issue 14 #4: idle connections no longer lock real users out."""
    settings = Settings(data_dir=tmp_path, max_live_sessions=2, live_idle_seconds=1.5)
    with ServerThread(create_app(settings)) as srv:
        async def scenario():
            idle = [await websockets.connect(_ws_url(srv)) for _ in range(2)]
            async with websockets.connect(_ws_url(srv)) as third:  # every slot is taken by an idle socket
                code, reason, msgs = await _closed_with(third)
            assert code == 1013 and "busy" in msgs[0]["error"]
            t0 = time.monotonic()
            results = [await _closed_with(ws) for ws in idle]
            waited = time.monotonic() - t0
            async with websockets.connect(_ws_url(srv)) as user:  # a real user gets in again
                await user.send(json.dumps({"type": "settings", "preset": "studio"}))
                reply = json.loads(await asyncio.wait_for(user.recv(), 30))
            return results, waited, reply

        results, waited, reply = run_sync(scenario())
    for code, reason, msgs in results:
        assert code == 1008, (code, reason)
        assert "no camera frame for 1.5 s" in reason and "reconnect" in reason
        assert msgs and msgs[-1]["fatal"] and msgs[-1]["error"] == reason
    assert waited < 10
    assert reply["type"] == "info"


def test_session_time_limit_closes_busy_sockets_too(tmp_path, no_tracebacks):
    """A socket that keeps sending frames is still closed after live_max_seconds, with the reason."""
    settings = Settings(data_dir=tmp_path, live_idle_seconds=10, live_max_seconds=2.5)
    with ServerThread(create_app(settings)) as srv:
        async def scenario():
            async with websockets.connect(_ws_url(srv)) as ws:
                t0 = time.monotonic()

                async def frames():
                    fid = 0
                    while True:
                        fid += 1
                        await ws.send(struct.pack("<I", fid) + b"not a jpeg")
                        await asyncio.sleep(0.3)

                sender = asyncio.create_task(frames())
                try:
                    code, reason, msgs = await asyncio.wait_for(_closed_with(ws), 30)
                finally:
                    sender.cancel()
                return code, reason, msgs, time.monotonic() - t0

        code, reason, msgs, dt = run_sync(scenario())
    assert code == 1008 and "reached its 2.5 s limit" in reason and "reconnect" in reason, (code, reason)
    assert 2.0 <= dt < 10
    assert any(m.get("id") for m in msgs)  # the frames were answered (with an error) until the limit


def test_deeply_nested_and_huge_json_get_an_answer_not_a_traceback(tmp_path, no_tracebacks):
    """Issue 14 #6: the 100000-deep array closes with 1009; a deep one under the size limit is refused
    with an error message and the session goes on."""
    settings = Settings(data_dir=tmp_path)
    with ServerThread(create_app(settings)) as srv:
        async def scenario():
            async with websockets.connect(_ws_url(srv), max_size=None) as ws:
                await ws.send("[" * 30000 + "]" * 30000)  # 60 KB: under the size limit, far over the depth one
                err = json.loads(await asyncio.wait_for(ws.recv(), 30))
                await ws.send(json.dumps({"type": "settings", "preset": "studio"}))
                ok = json.loads(await asyncio.wait_for(ws.recv(), 30))
                await ws.send('{"a": "' + "[" * 50 + '"}')  # brackets inside a string are not nesting
                ok2 = json.loads(await asyncio.wait_for(ws.recv(), 30))
            async with websockets.connect(_ws_url(srv), max_size=None) as ws:
                await ws.send("[" * 100000 + "]" * 100000)
                closed = await asyncio.wait_for(_closed_with(ws), 30)
            return err, ok, ok2, closed

        err, ok, ok2, (code, reason, msgs) = run_sync(scenario())
    assert err["type"] == "error" and "nested over 8 levels" in err["error"]
    assert ok["type"] == "info" and ok2["type"] == "info"
    assert code == 1009 and "under 64 KB" in reason
    assert msgs and msgs[-1]["fatal"]


def _video(path) -> tuple:
    return ("clip.mp4", path.read_bytes(), "video/mp4")


def _leftovers(settings: Settings) -> list:
    return [p for p in (*settings.jobs_dir.iterdir(), *settings.staging_dir.iterdir())]


def test_full_job_queue_answers_429_and_nothing_is_left_on_disk(tmp_path, videos_dir, no_tracebacks):
    """Issue 14 #5: 1 running + max_queued_jobs waiting, then 429 with Retry-After; after shut-down no
    job folder or upload is left, and a restart removes what a crash left."""
    settings = Settings(data_dir=tmp_path, max_queued_jobs=1)
    long_clip = videos_dir / "talking_d6.mp4"  # 33 s: still running when the queue fills
    with ServerThread(create_app(settings)) as srv:
        with httpx.Client(base_url=srv.url, timeout=120) as c:
            first = c.post("/api/relight/video", files={"file": _video(long_clip)})
            for _ in range(300):  # the first job leaves the queue and runs
                if c.get(first.json()["status_url"]).json()["status"] == "running":
                    break
                time.sleep(0.1)
            second = c.post("/api/relight/video", files={"file": _video(long_clip)})
            third = c.post("/api/relight/video", files={"file": _video(long_clip)})
            assert first.status_code == 202 and second.status_code == 202, (first.text, second.text)
            assert third.status_code == 429, third.text
            assert int(third.headers["Retry-After"]) >= 1
            assert "queue is full" in third.json()["error"] and "try again" in third.json()["error"]
            assert c.get(second.json()["status_url"]).json()["status"] == "queued"
            assert len(list(settings.staging_dir.iterdir())) == 2  # the refused upload was not kept
    assert _leftovers(settings) == []  # shut down with a running and a queued job: nothing stays

    # a crash (kill -9) leaves a job folder and a staged upload: the next start removes them
    crashed = settings.jobs_dir / ("ab" * 16)
    crashed.mkdir()
    (crashed / "relit.mp4").write_bytes(b"x" * 1000)
    (settings.staging_dir / ("cd" * 16 + ".mp4")).write_bytes(b"y" * 1000)
    kept = settings.uploads_dir / "1234abcd_gallery_photo.jpg"  # a gallery file stays
    kept.write_bytes(b"z")
    with ServerThread(create_app(settings)) as srv:
        assert httpx.get(srv.url + "/api/health").status_code == 200
        assert _leftovers(settings) == []
        assert kept.exists()


def test_failed_job_error_has_no_server_path(tmp_path, no_tracebacks):
    """Issue 14 #8: the error of a failed job names the file, never the server's upload folder."""
    settings = Settings(data_dir=tmp_path)
    broken = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x13" * 5000
    with ServerThread(create_app(settings)) as srv:
        with httpx.Client(base_url=srv.url, timeout=120) as c:
            r = c.post("/api/relight/video", files={"file": ("clip.mp4", broken, "video/mp4")})
            assert r.status_code == 202, r.text
            job = wait_job(c, r.json(), timeout=120)
            download = c.get(f"/api/jobs/{job['id']}/download")
    assert job["status"] == "failed"
    for text in (job["error"], download.json()["error"]):
        assert "not a video faceplay can read" in text and "re-export" in text
        assert str(tmp_path) not in text and "/uploads/" not in text and "incoming" not in text
    assert list(settings.staging_dir.iterdir()) == []  # the failed job's upload is gone too


def test_non_ascii_token_is_compared_as_utf8(tmp_path):
    """Issue 14 #8: the same token is accepted in UTF-8 and refused in Latin-1, on the API and the socket."""
    settings = Settings(data_dir=tmp_path, token="pässwörd")
    with ServerThread(create_app(settings)) as srv:
        ok = httpx.get(srv.url + "/api/jobs/" + "0" * 32, headers={"Authorization": "Bearer pässwörd".encode("utf-8")})
        latin = httpx.get(srv.url + "/api/jobs/" + "0" * 32,
                          headers={"Authorization": "Bearer pässwörd".encode("latin-1")})
        assert ok.status_code == 404 and latin.status_code == 401

        async def sockets():
            async with websockets.connect(_ws_url(srv, query="?token=p%C3%A4ssw%C3%B6rd")) as ws:
                await ws.send(json.dumps({"type": "settings", "preset": "studio"}))
                good = json.loads(await asyncio.wait_for(ws.recv(), 30))
            try:
                async with websockets.connect(_ws_url(srv, query="?token=p%E4ssw%F6rd")) as ws:
                    await ws.recv()
                bad = None
            except websockets.InvalidStatus as exc:  # refused before the handshake completes
                bad = exc.response.status_code
            except websockets.ConnectionClosed as exc:
                bad = exc.rcvd.code if exc.rcvd else None
            return good, bad

        good, bad = run_sync(sockets())
    assert good["type"] == "info"
    assert bad in (403, 1008)


def test_finished_jobs_expire_with_their_folder(tmp_path):
    """Job retention: a finished job is forgotten (404) and its folder removed after job_retention_seconds."""
    settings = Settings(data_dir=tmp_path, job_retention_seconds=1.0)
    broken = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x13" * 5000
    with ServerThread(create_app(settings)) as srv:
        with httpx.Client(base_url=srv.url, timeout=120) as c:
            job = wait_job(c, c.post("/api/relight/video", files={"file": ("clip.mp4", broken, "video/mp4")}).json())
            assert job["status"] == "failed"
            assert (settings.jobs_dir / job["id"]).is_dir()
            time.sleep(1.5)
            gone = c.get(job["status_url"])
    assert gone.status_code == 404 and "expired" in gone.json()["error"]
    assert not (settings.jobs_dir / job["id"]).exists()

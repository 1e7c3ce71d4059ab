"""Fixtures of the web tests: one app per session (models load once), a live
server on loopback, a fake camera made from a real talking-head video, and
headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e .[web])")

from faceplay.web.app import create_app  # noqa: E402
from faceplay.web.config import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DOC_IMAGES = ROOT / "docs" / "images"


@pytest.fixture(autouse=True)
def _dump_threads_if_stuck():
    """A web test that hangs dumps every thread's stack after 4 minutes (diagnostics, not a time limit)."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(240, exit=False, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def web_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("webdata"), max_upload_bytes=8 * 1024 * 1024,
                    max_image_pixels=12_000_000)


@pytest.fixture(scope="session")
def app(web_settings):
    return create_app(web_settings)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(app, client):
    """The same app on a real loopback port (shares models with ``client``)."""
    from faceplay.web.harness import ServerThread

    with ServerThread(app, lifespan="off") as srv:  # the TestClient owns the app's start-up / shut-down
        yield srv


@pytest.fixture(scope="session")
def fake_cam(videos_dir, tmp_path_factory) -> Path:
    """talking_d0 (grimaces) as a 640x480 y4m webcam, 3 s looped by Chromium."""
    from faceplay.web.harness import fake_camera_y4m

    return fake_camera_y4m(videos_dir / "talking_d0.mp4", tmp_path_factory.mktemp("cam") / "cam.y4m", seconds=3.0)


@pytest.fixture(scope="session")
def browser(fake_cam):
    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (tools/apt-packages.txt)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
    from faceplay.web.harness import launch_chromium

    with sync_api.sync_playwright() as p:
        b = launch_chromium(p, fake_cam)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Save a screenshot under the pytest tmp dir (FACEPLAY_UPDATE_DOC_IMAGES=1 also copies it to docs/images/web_NAME.png)."""
    folder = tmp_path_factory.mktemp("screenshots")

    def save(page, name: str) -> Path:
        path = folder / f"web_{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("FACEPLAY_UPDATE_DOC_IMAGES") == "1" and DOC_IMAGES.parent.is_dir():
            DOC_IMAGES.mkdir(exist_ok=True)
            shutil.copy(path, DOC_IMAGES / path.name)
        return path

    return save


def upload(path: Path, ctype: str = "image/jpeg"):
    return (path.name, path.read_bytes(), ctype)


GALLERY = ["alex_lacamoire_img1.jpg", "biden_biden.jpg", "biden_biden2.jpg", "kit_harington_john1.jpeg",
           "kit_harington_john2.jpeg", "obama_obama.jpg", "obama_obama2.jpg", "rose_leslie_img1.jpg",
           "rose_leslie_img2.jpg", "test_johnsnow_test1.jpg"]


def wait_job(client, job: dict, timeout: float = 300) -> dict:
    seen = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        j = client.get(job["status_url"]).json()
        seen.append(j["progress"])
        if j["status"] in ("done", "failed"):
            j["_progress_seen"] = seen
            return j
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} did not finish in {timeout} s")


@pytest.fixture(scope="session")
def gallery(client, faces_dir):
    files = [("files", upload(faces_dir / n, "image/png" if n.endswith(".png") else "image/jpeg")) for n in GALLERY]
    r = client.post("/api/gallery/add", files=files)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json())
    assert job["status"] == "done", job
    return job

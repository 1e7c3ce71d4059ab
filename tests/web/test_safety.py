"""Limits and safety: every bad request is a 4xx JSON error that says what to do; nothing escapes the data folder."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.web.conftest import upload, wait_job


def _err(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body["error"], str) and len(body["error"]) > 10
    return body["error"]


def test_oversize_upload_is_413(client):
    big = b"\xff\xd8\xff" + b"\0" * (9 * 1024 * 1024)
    msg = _err(client.post("/api/analyze", files={"file": ("big.jpg", big, "image/jpeg")}), 413)
    assert "limit" in msg


def test_too_many_pixels_is_413(client):
    buf = io.BytesIO()
    Image.new("RGB", (4000, 4000), (120, 90, 60)).save(buf, "PNG")  # 16 MP, small file
    msg = _err(client.post("/api/analyze", files={"file": ("huge.png", buf.getvalue(), "image/png")}), 413)
    assert "MP" in msg


def test_wrong_content_type_is_415(client, faces_dir):
    _err(client.post("/api/analyze", files={"file": ("a.txt", b"hello world", "text/plain")}), 415)
    # declared as an image, but the bytes are a PDF
    _err(client.post("/api/analyze", files={"file": ("a.jpg", b"%PDF-1.7\n" + b"x" * 200, "image/jpeg")}), 415)
    # a real video sent to a photo endpoint
    _err(client.post("/api/analyze", files={"file": upload(faces_dir / "short_hamilton_clip.mp4", "video/mp4")}), 415)
    # a photo sent to a video endpoint
    _err(client.post("/api/relight/video", files={"file": upload(faces_dir / "obama_obama.jpg")}), 415)


def test_truncated_and_empty_images(client, faces_dir):
    data = (faces_dir / "obama_obama.jpg").read_bytes()
    msg = _err(client.post("/api/analyze", files={"file": ("cut.jpg", data[: len(data) // 3], "image/jpeg")}), 422)
    assert "truncated" in msg or "damaged" in msg
    _err(client.post("/api/analyze", files={"file": ("empty.jpg", b"", "image/jpeg")}), 400)


def test_missing_fields_and_unknown_routes(client):
    assert "file" in _err(client.post("/api/analyze"), 422)
    _err(client.get("/api/nothing-here"), 404)
    _err(client.get("/api/analyze"), 405)


def test_unknown_fields_are_400(client, faces_dir):
    msg = _err(client.post("/api/analyze?fields=age,passwords", files={"file": upload(faces_dir / "obama_obama.jpg")}), 400)
    assert "passwords" in msg


@pytest.mark.parametrize("jid", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "0" * 31 + "g", "abc", "%00" * 16])
def test_path_like_job_ids(client, jid):
    r = client.get(f"/api/jobs/{jid}")
    assert r.status_code in (400, 404) and "error" in r.json()
    r = client.get(f"/api/jobs/{jid}/download")
    assert r.status_code in (400, 404) and "error" in r.json()


def test_unknown_job_is_404(client):
    _err(client.get("/api/jobs/" + "ab" * 16), 404)
    _err(client.get("/api/jobs/" + "ab" * 16 + "/download"), 404)


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "a" * 64, "..", "%2e%2e"])
def test_path_like_gallery_names(client, name):
    r = client.delete(f"/api/gallery/files/{name}")
    assert r.status_code in (400, 404, 405) and "error" in r.json()


def test_upload_names_never_become_paths(client, web_settings, faces_dir, tmp_path):
    """A client file name full of ../ is stored under a server-made name inside the uploads folder."""
    evil = "../../../../tmp/faceplay_evil.jpg"
    r = client.post("/api/gallery/add", files=[("files", (evil, (faces_dir / "obama-240p.jpg").read_bytes(), "image/jpeg"))])
    assert r.status_code == 202, r.text
    from pathlib import Path

    assert not Path("/tmp/faceplay_evil.jpg").exists()
    job = wait_job(client, r.json())
    assert job["status"] == "done", job
    assert not Path("/tmp/faceplay_evil.jpg").exists()
    stored = [p for p in web_settings.uploads_dir.rglob("*") if "faceplay_evil" in p.name]
    assert stored or job["result"]["files_skipped"], job  # kept for the gallery unless it was a duplicate
    assert all(p.parent == web_settings.uploads_dir for p in stored)


def test_static_files_cannot_escape(client):
    for url in ("/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/config.py"):
        r = client.get(url)
        assert r.status_code == 404 and b"Settings" not in r.content


def test_bearer_token(web_settings, tmp_path, faces_dir):
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from faceplay.web.app import create_app
    from faceplay.web.config import Settings

    app = create_app(Settings(data_dir=tmp_path, token="s3cret"))
    with TestClient(app) as c:
        assert c.get("/api/health").status_code == 200  # health stays open for monitors
        msg = _err(c.get("/api/gallery/stats"), 401)
        assert "Bearer" in msg
        _err(c.get("/api/gallery/stats", headers={"Authorization": "Bearer wrong"}), 401)
        assert c.get("/api/gallery/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/relight").status_code == 200  # pages load; their API calls carry ?token=
        with pytest.raises(WebSocketDisconnect) as e:
            with c.websocket_connect("/ws/live/relight") as ws:
                ws.receive_text()
        assert e.value.code == 1008


def test_default_bind_is_localhost():
    from click.testing import CliRunner

    from faceplay.web.cli import serve

    out = CliRunner().invoke(serve, ["--help"])
    assert out.exit_code == 0 and "127.0.0.1" in out.output and "--token" in out.output

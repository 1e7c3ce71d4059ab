"""Gallery, lookalike and background jobs through the API, on real photos and videos."""

from __future__ import annotations

import numpy as np
import pytest

from tests.web.conftest import GALLERY, upload, wait_job


def test_gallery_add_reports_progress_and_faces(gallery):
    res = gallery["result"]
    assert res["files_added"] == len(GALLERY) and res["faces_added"] >= len(GALLERY)
    assert gallery["progress"] == 1.0 and gallery["_progress_seen"] == sorted(gallery["_progress_seen"])


def test_gallery_stats_lists_files(client, gallery):
    s = client.get("/api/gallery/stats").json()
    assert s["entries"] >= len(GALLERY) and s["images"] >= len(GALLERY)
    names = {f["name"] for f in s["file_list"]}
    assert any(n.endswith("obama_obama.jpg") for n in names)
    assert all("/" not in n for n in names)  # no server paths leak


def test_lookalike_finds_the_same_person_with_explanation(client, gallery, faces_dir):
    r = client.post("/api/lookalike", files={"file": upload(faces_dir / "test_obama1.jpg")})
    assert r.status_code == 200, r.text
    d = r.json()
    assert "obama" in d["winner"]["source"]
    assert len(d["top"]) == 3 and d["top"][0]["id"] == d["winner"]["id"]
    for m in d["top"]:
        assert m["thumbnail"].startswith("data:image/jpeg;base64,")
        assert set(m["contributions"]) >= {"identity"} and m["attributes"].get("gender") in ("male", "female")
    assert d["winner"]["similarity"] > 0.3  # the same person scores well above strangers
    assert max(m["score"] for m in d["top"]) == d["winner"]["score"]


def test_lookalike_without_face_is_422(client, gallery, faces_dir):
    import io

    from PIL import Image

    im = Image.open(faces_dir / "obama3.jpg").convert("RGB")
    buf = io.BytesIO()
    im.crop((0, im.height // 2, im.width, im.height)).save(buf, "JPEG")
    r = client.post("/api/lookalike", files={"file": ("body.jpg", buf.getvalue(), "image/jpeg")})
    assert r.status_code == 422 and "no face" in r.json()["error"]


def test_gallery_remove_by_sha256(client, gallery, faces_dir):
    r = client.post("/api/gallery/add", files=[("files", upload(faces_dir / "test_alex_lacamoire1.jpg"))])
    assert wait_job(client, r.json())["status"] == "done"
    s = client.get("/api/gallery/stats").json()
    f = next(f for f in s["file_list"] if f["name"].endswith("test_alex_lacamoire1.jpg"))
    r = client.delete(f"/api/gallery/files/{f['sha256']}")
    assert r.status_code == 200 and r.json()["removed"] == f["faces"]
    assert r.json()["gallery_entries"] == s["entries"] - f["faces"]
    assert client.delete(f"/api/gallery/files/{f['sha256']}").status_code == 404


@pytest.fixture(scope="session")
def short_clip(videos_dir, tmp_path_factory):
    """The first 20 frames of a real talking-head video."""
    from faceplay.media.video import VideoReader, VideoWriter

    dst = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with VideoReader(videos_dir / "talking_d19.mp4") as r, VideoWriter(dst, r.fps, r.width, r.height) as w:
        for i, fr in enumerate(r):
            if i >= 20:
                break
            w.write(fr.rgb)
    return dst


def test_relight_video_job_download(client, short_clip):
    from faceplay.media.video import VideoReader

    r = client.post("/api/relight/video", files={"file": upload(short_clip, "video/mp4")},
                    data={"az": "-70", "strength": "1"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and len(job["id"]) == 32
    j = wait_job(client, job)
    assert j["status"] == "done", j
    assert j["result"]["frames"] == 20 and j["result"]["frames_with_faces"] >= 18
    d = client.get(j["download_url"])
    assert d.status_code == 200 and d.headers["content-type"] == "video/mp4"
    out = short_clip.parent / "relit.mp4"
    out.write_bytes(d.content)
    with VideoReader(out) as a, VideoReader(short_clip) as b:
        fa = [f.rgb.astype(np.float32) for f in a]
        fb = [f.rgb.astype(np.float32) for f in b]
    assert len(fa) == len(fb) == 20
    assert np.mean([np.abs(x - y).mean() for x, y in zip(fa, fb)]) > 2  # the light changed


def test_video_job_failure_is_reported(client, tmp_path, faces_dir):
    # an MP4 header with nothing decodable behind it: accepted, then the job fails with a message
    data = (faces_dir / "short_hamilton_clip.mp4").read_bytes()[:4000]
    r = client.post("/api/relight/video", files={"file": ("cut.mp4", data, "video/mp4")})
    assert r.status_code == 202
    j = wait_job(client, r.json())
    assert j["status"] == "failed" and j["error"]
    d = client.get(f"/api/jobs/{j['id']}/download")
    assert 400 <= d.status_code < 500 and "failed" in d.json()["error"]


def test_avatar_video_job_side_by_side(client, short_clip):
    if not client.get("/api/health").json()["features"]["avatar"]:
        pytest.skip("the avatar module is not in this build")
    from faceplay.media.video import VideoReader

    r = client.post("/api/avatar/video", files={"file": upload(short_clip, "video/mp4")},
                    data={"avatar": "robot", "mode": "side-by-side"})
    assert r.status_code == 202, r.text
    j = wait_job(client, r.json())
    assert j["status"] == "done" and j["result"]["frames"] == 20, j
    out = short_clip.parent / "avatar.mp4"
    out.write_bytes(client.get(j["download_url"]).content)
    with VideoReader(out) as a, VideoReader(short_clip) as b:
        assert (a.width, a.height) == (2 * b.width, b.height)
        fa = [f.rgb.astype(np.float32) for f in a]
        fb = [f.rgb.astype(np.float32) for f in b]
    assert len(fa) == 20
    # the left half is the input, the right half the avatar, and it moves with the video
    assert np.abs(fa[10][:, : b.width] - fb[10]).mean() < 6
    assert np.abs(fa[0][:, b.width:] - fa[19][:, b.width:]).mean() > 0.5

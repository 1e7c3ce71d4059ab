"""`faceplay avatar` from the command line (real photos, real files)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def run(*args):
    return subprocess.run([sys.executable, "-m", "faceplay.cli", "avatar", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_list_json():
    r = run("--list", "--json")
    assert r.returncode == 0, r.stderr
    avatars = {a["name"]: a for a in json.loads(r.stdout)["avatars"]}
    assert {"toon", "robot", "creature", "bear"} <= set(avatars)
    assert avatars["toon"]["options"]["hair"] and all(a["morph_targets"] >= 52 for a in avatars.values())


def test_export_writes_a_loadable_glb(tmp_path):
    out = tmp_path / "robot.glb"
    r = run("--export", "robot", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    from faceplay.avatar.model import Avatar

    av = Avatar(str(out))
    assert len(av.targets) == 52


def test_unknown_avatar_is_one_line_with_the_known_names(faces_dir, tmp_path):
    r = run(faces_dir / "obama3.jpg", "-o", tmp_path / "x.jpg", "--avatar", "dragonfly")
    assert r.returncode != 0
    lines = [l for l in r.stderr.strip().splitlines() if l]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "dragonfly" in lines[0] and "toon" in lines[0] and "robot" in lines[0]


def test_photo_replace_with_overrides(faces_dir, tmp_path):
    out = tmp_path / "toon.png"
    r = run(faces_dir / "obama3.jpg", "-o", out, "--avatar", "toon", "--hair", "none", "--skin", "#8d5524", "--beard", "no",
            "--no-auto", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["faces"] == 1 and res["avatars"][0]["config"] == {"skin": "#8d5524", "hair": "none", "beard": "no"}
    src = np.asarray(Image.open(faces_dir / "obama3.jpg").convert("RGB"))
    img = np.asarray(Image.open(out))
    assert img.shape == src.shape


def test_avatar_only_png_is_transparent(faces_dir, tmp_path):
    out = tmp_path / "alpha.png"
    r = run(faces_dir / "obama3.jpg", "-o", out, "--mode", "avatar-only", "--background", "none", "--avatar", "bear")
    assert r.returncode == 0, r.stderr
    im = Image.open(out)
    assert im.mode == "RGBA"
    a = np.asarray(im)[..., 3]
    assert (a == 0).mean() > 0.3 and (a == 255).sum() > 1000


def test_bad_option_values(faces_dir, tmp_path):
    r = run(faces_dir / "obama3.jpg", "-o", tmp_path / "x.jpg", "--hair", "mohawk")
    assert r.returncode != 0 and "mohawk" in r.stderr and "short" in r.stderr
    r = run(faces_dir / "obama3.jpg", "-o", tmp_path / "x.jpg", "--gain", "ears=2")
    assert r.returncode != 0 and "mouth" in r.stderr


@pytest.mark.slow
def test_gallery_sheet(tmp_path):
    out = tmp_path / "sheet.png"
    r = run("--gallery", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    sheet = np.asarray(Image.open(out).convert("RGB"))
    from faceplay.avatar.gallery import POSES
    from faceplay.avatar.model import builtin_names

    assert sheet.shape[1] == 256 * len(POSES) and sheet.shape[0] >= 256 * len(builtin_names())
    # every tile shows an avatar (not just background)
    for row in range(len(builtin_names())):
        for col in range(len(POSES)):
            y0 = row * (256 + 22) + 22
            tile = sheet[y0:y0 + 256, col * 256:(col + 1) * 256].astype(int)
            assert (np.abs(tile - [236, 238, 243]).sum(-1) > 30).mean() > 0.2


def test_live_pixels_sets_the_video_render_budget(videos_dir, tmp_path):
    """`--live-pixels`: fewer rasterised pixels per video frame give a visibly softer avatar."""
    from faceplay.media.video import VideoReader, VideoWriter

    clip = tmp_path / "clip.mp4"
    with VideoReader(videos_dir / "talking_d19.mp4") as r:
        w = VideoWriter(clip, r.fps, r.width, r.height, crf=18)
        for fr in r:
            if fr.index >= 6:
                break
            w.write(fr.rgb)
        w.close()
    sharpness = {}
    for px in (2_000, 200_000):
        out = tmp_path / f"robot_{px}.mp4"
        res = run(clip, "-o", out, "--avatar", "robot", "--no-auto", "--live-pixels", px, "--json")
        assert res.returncode == 0, res.stderr
        with VideoReader(out) as r:
            last = [fr.rgb for fr in r][-1]
        with VideoReader(clip) as r:
            x, y, bw, bh = (int(v) for v in _face_box([fr.rgb for fr in r][-1]))
        head = last[y:y + bh, x:x + bw].astype(int)
        sharpness[px] = float(np.abs(np.diff(head, axis=1)).mean())
    assert sharpness[2_000] < 0.8 * sharpness[200_000], sharpness
    assert run(clip, "-o", tmp_path / "x.mp4", "--live-pixels", "10").returncode != 0  # out of range: refused


def _face_box(rgb):
    """The face box of a frame (the avatar is drawn there)."""
    from faceplay.face.track import FaceTracker

    with FaceTracker(max_faces=1) as tr:
        (face,) = tr.update(rgb, 0.0)
    return face.box

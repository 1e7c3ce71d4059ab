"""The `faceplay` command as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceplay.media import read_image

FACEPLAY = [sys.executable, "-m", "faceplay.cli"]


def run(*args, check=False, timeout=300):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([*FACEPLAY, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_help_lists_commands_and_every_command_has_help():
    p = run("--help", check=True)
    for cmd in ("analyze", "verify", "models"):
        assert cmd in p.stdout
        sub = run(cmd, "--help", check=True)
        assert "--json" in sub.stdout or cmd == "models"


def test_analyze_json_schema(faces_dir, tmp_path):
    out = tmp_path / "annotated.jpg"
    p = run("analyze", faces_dir / "two_people.jpg", "--json", "--embedding", "-o", out, check=True)
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(lines) == 1
    doc = lines[0]
    assert doc["path"].endswith("two_people.jpg") and len(doc["faces"]) == 2
    f = doc["faces"][0]
    assert len(f["box"]) == 4 and 0 <= f["score"] <= 1
    assert len(f["landmarks"]) == 478 and len(f["landmarks"][0]) == 3
    assert len(f["blendshapes"]) == 52 and "jawOpen" in f["blendshapes"]
    assert set(f["pose"]) == {"yaw", "pitch", "roll"}
    for key in ("age", "gender", "gender_score", "expression", "expression_scores", "skin_tone", "face_shape", "quality"):
        assert key in f, key
    assert f["gender"] in ("male", "female")
    assert len(f["embedding"]) == 128
    # the annotated image is a real picture of the same size, with drawing on it
    ann, src = read_image(out), read_image(faces_dir / "two_people.jpg")
    assert ann.shape == src.shape
    assert np.abs(ann.astype(int) - src.astype(int)).mean() > 1


def test_analyze_without_embedding_flag_has_no_embedding(faces_dir):
    p = run("analyze", faces_dir / "obama_obama.jpg", "--json", check=True)
    assert "embedding" not in json.loads(p.stdout)["faces"][0]


def test_analyze_table_output(faces_dir):
    p = run("analyze", faces_dir / "obama_obama.jpg", check=True)
    assert "1 face(s)" in p.stdout and "yaw/pitch/roll" in p.stdout


def test_analyze_video_one_line_per_frame_and_annotated_video(hamilton, tmp_path):
    from faceplay.media import probe

    out = tmp_path / "annotated.mp4"
    p = run("analyze", hamilton, "--json", "--fields", "none", "-o", out, check=True)
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x["frame"] for x in lines] == list(range(275))
    assert sum(1 for x in lines if x["faces"]) > 90
    info = probe(out)
    assert info["frames"] == 275 and info["has_audio"]


def test_analyze_folder_recurses(faces_dir, tmp_path):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    for name in ("obama_obama.jpg", "rose_leslie_img1.jpg"):
        (sub / name).write_bytes((faces_dir / name).read_bytes())
    p = run("analyze", tmp_path, "--json", "--fields", "none", check=True)
    assert len(p.stdout.splitlines()) == 2


def test_verify(faces_dir):
    same = json.loads(run("verify", faces_dir / "obama_obama.jpg", faces_dir / "obama3.jpg", "--json", check=True).stdout)
    diff = json.loads(run("verify", faces_dir / "obama_obama.jpg", faces_dir / "rose_leslie_img1.jpg", "--json", check=True).stdout)
    assert same["same"] is True and same["similarity"] > same["threshold"]
    assert diff["same"] is False and diff["similarity"] < diff["threshold"]


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "noface", "huge", "corrupt_mp4"])
def test_bad_inputs_give_one_line_and_nonzero_exit(kind, tmp_path, faces_dir, hamilton):
    if kind == "missing":
        path = tmp_path / "nope.jpg"
    elif kind == "empty":
        path = tmp_path / "empty.jpg"
        path.write_bytes(b"")
    elif kind == "text":
        path = tmp_path / "notes.jpg"
        path.write_text("not an image\n")
    elif kind == "truncated":
        path = tmp_path / "trunc.jpg"
        data = (faces_dir / "obama_obama.jpg").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "noface":
        path = tmp_path / "noface.png"
        from PIL import Image

        Image.new("RGB", (400, 300), (120, 160, 200)).save(path)
    elif kind == "huge":
        path = tmp_path / "huge.png"
        from PIL import Image

        Image.new("1", (10000, 10000)).save(path)
    else:
        path = tmp_path / "corrupt.mp4"
        path.write_bytes(hamilton.read_bytes()[:40_000])
    if kind == "noface":
        p = run("verify", path, faces_dir / "obama_obama.jpg")
    else:
        p = run("analyze", path, "--fields", "none")
    assert p.returncode != 0
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("faceplay: error:"), p.stderr
    assert "Traceback" not in p.stderr


def test_api_bad_inputs_raise_faceplay_errors(analyzer, tmp_path):
    from faceplay.errors import FaceplayError, NoFaceError
    from PIL import Image

    Image.new("RGB", (300, 300), (10, 10, 10)).save(tmp_path / "dark.png")
    assert analyzer.analyze(tmp_path / "dark.png") == []
    with pytest.raises(NoFaceError):
        analyzer.embed(tmp_path / "dark.png")
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(FaceplayError):
        analyzer.analyze(tmp_path / "zero.jpg")
    with pytest.raises(FaceplayError):
        list(analyzer.track(tmp_path / "zero.mp4"))

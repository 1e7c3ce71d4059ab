"""Issue 14: an output never overwrites an input and appears only whole; bad settings are one-line errors.

Everything runs through the `faceplay` command on copies of real photos and videos and checks what a user
sees: the exit code, the one error line, and the input unchanged byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import one_line_error
from tests.conftest import run_faceplay as faceplay


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def photo(tmp_path, faces_dir) -> Path:
    p = tmp_path / "x.jpg"
    shutil.copyfile(faces_dir / "obama3.jpg", p)
    return p


@pytest.fixture()
def video(tmp_path, hamilton) -> Path:
    p = tmp_path / "v.mp4"
    shutil.copyfile(hamilton, p)
    return p


def _refused(args: list[str], victim: Path) -> None:
    before = digest(victim)
    one_line_error(faceplay(*args), 2, "is the input file", "choose another output name")
    assert digest(victim) == before  # the input is untouched
    assert sorted(p.name for p in victim.parent.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_relight_refuses_to_overwrite_its_input(photo):
    _refused(["relight", str(photo), "-o", str(photo)], photo)
    _refused(["relight", str(photo), "-o", str(photo.parent / "." / photo.name)], photo)  # same file, other spelling


def test_output_through_a_link_to_the_input_is_refused(photo):
    link = photo.with_name("link.jpg")
    link.symlink_to(photo.name)
    _refused(["relight", str(photo), "-o", str(link)], photo)
    hard = photo.with_name("hard.jpg")
    os.link(photo, hard)
    _refused(["analyze", str(photo), "-o", str(hard)], photo)


def test_analyze_refuses_to_overwrite_its_input(photo):
    _refused(["analyze", str(photo), "-o", str(photo)], photo)


def test_avatar_refuses_to_overwrite_its_input_video(video):
    _refused(["avatar", str(video), "-o", str(video)], video)


def test_lookalike_sheet_refuses_to_overwrite_the_query(photo, tmp_path, faces_dir):
    src = tmp_path / "gal"
    src.mkdir()
    for n in ("obama_obama.jpg", "biden_biden.jpg"):
        shutil.copyfile(faces_dir / n, src / n)
    db = tmp_path / "db"
    assert faceplay("gallery", "add", str(src), "--db", str(db), "--workers", "1").returncode == 0
    _refused(["lookalike", str(photo), "--db", str(db), "-o", str(photo)], photo)


def test_captions_burn_refuses_before_transcribing(video):
    pytest.importorskip("faster_whisper")
    before = digest(video)
    res = faceplay("captions", str(video), "--burn", str(video))
    one_line_error(res, 2, "--burn", "is the input file")
    assert "captions:" not in res.stderr  # refused before any transcription progress
    assert digest(video) == before


def test_analyze_output_is_replaced_whole_and_leaves_no_temp_file(photo, tmp_path):
    out = tmp_path / "out" / "annotated.jpg"
    out.parent.mkdir()
    out.write_bytes(b"old")
    res = faceplay("analyze", str(photo), "-o", str(out), "--fields", "none")
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:2] == b"\xff\xd8"  # a whole JPEG replaced the old file
    assert [p.name for p in out.parent.iterdir()] == ["annotated.jpg"]


def test_atomic_output_keeps_the_old_file_when_writing_fails(tmp_path):
    from faceplay.media.output import atomic_output

    out = tmp_path / "result.jpg"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            assert tmp.parent == out.parent and tmp.suffix == ".jpg"
            tmp.write_bytes(b"half a fi")
            raise RuntimeError("encoder died")
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.jpg"]


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan"])
def test_bad_max_pixels_is_a_clear_error(photo, value):
    one_line_error(faceplay("analyze", str(photo), env={"FACEPLAY_MAX_PIXELS": value}), 2,
                   f"FACEPLAY_MAX_PIXELS={value}", "unset it")


def test_max_pixels_limit_message_shows_the_limit(photo):
    one_line_error(faceplay("analyze", str(photo), env={"FACEPLAY_MAX_PIXELS": "1000000"}), 2, "over the 1 MP limit")


def test_faceplay_home_that_is_a_file(photo, tmp_path):
    f = tmp_path / "home-file"
    shutil.copyfile(photo, f)
    one_line_error(faceplay("analyze", str(photo), env={"FACEPLAY_HOME": str(f)}), 2, "FACEPLAY_HOME", "not a folder")
    one_line_error(faceplay("models", "list", env={"FACEPLAY_HOME": str(f / "sub")}), 2, "FACEPLAY_HOME")


def test_caption_font_that_is_not_a_font_fails_before_transcribing(video, photo, tmp_path):
    pytest.importorskip("faster_whisper")
    res = faceplay("captions", str(video), "--burn", str(tmp_path / "burnt.mp4"), env={"FACEPLAY_CAPTION_FONT": str(photo)})
    one_line_error(res, 2, "caption font", "FACEPLAY_CAPTION_FONT")
    assert "captions:" not in res.stderr and not (tmp_path / "burnt.mp4").exists()


def test_serve_data_that_is_a_file(photo):
    pytest.importorskip("uvicorn")
    one_line_error(faceplay("serve", "--data", str(photo), "--port", "0", timeout=60), 2, "--data", "not a folder")
    one_line_error(faceplay("serve", "--data", str(photo / "sub"), "--port", "0", timeout=60), 2, "not a folder")


def test_models_verify_exits_non_zero_on_a_corrupt_model(tmp_path, photo):
    from faceplay.models import store

    fetched = next(m for m in store.manifest().values() if not m.bundled)
    target = tmp_path / "home" / "models" / fetched.file
    target.parent.mkdir(parents=True)
    shutil.copyfile(photo, target)  # a real file, but not the model
    res = faceplay("models", "verify", env={"FACEPLAY_HOME": str(tmp_path / "home")})
    assert res.returncode == 4, (res.returncode, res.stdout, res.stderr)
    assert any(fetched.name in line and "corrupt" in line for line in res.stdout.splitlines()), res.stdout

"""Burnt-in captions, the `faceplay captions` command, and the model store entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceplay.speech.captions import Cue, build_cues


def _frames(path):
    from faceplay.media.video import VideoReader

    with VideoReader(path) as r:
        return [f.rgb.copy() for f in r], r.has_audio, float(r.fps)


def test_burn_in_draws_captions_only_while_they_are_shown(tmp_path, en_video, en_transcript):
    from faceplay.speech.burn import burn_captions

    cues = build_cues(en_transcript)
    out = burn_captions(en_video, cues, tmp_path / "burnt.mp4")
    src, _, fps = _frames(en_video)
    dst, has_audio, fps2 = _frames(out)
    assert has_audio and fps2 == fps and len(dst) == len(src)
    h = src[0].shape[0]
    for i in range(0, len(src), 5):
        t = i / fps
        diff = np.abs(dst[i].astype(int) - src[i].astype(int))
        # bright caption text in the lower part of the vertical frame
        bottom = diff[h // 2 :].max(axis=2) > 60
        shown = any(c.start + 0.1 < t < c.end - 0.1 for c in cues)
        hidden = all(t < c.start - 0.1 or t > c.end + 0.1 for c in cues)
        if shown:
            assert bottom.sum() > 200, f"no caption drawn at {t:.2f}s"
            assert diff[: h // 3].mean() < 3  # the top of the frame is untouched
        elif hidden:
            assert bottom.sum() < 50, f"caption drawn at {t:.2f}s outside every cue"
    # the sound is still there and still says the same thing
    from faceplay.speech.transcribe import transcribe

    from faceplay.speech.audio import load_audio

    again = transcribe(load_audio(out)[: 16000 * 5], language="en", beam_size=1)
    assert again.text.lower().split()[:3] == en_transcript.text.lower().split()[:3]


def test_font_renders_chinese_glyphs():
    from faceplay.speech.burn import CaptionRenderer

    r = CaptionRenderer(720, 1280, max_chars=28)
    a, _, _ = r.render(0, ["你好世界"])
    b, _, _ = r.render(1, ["欢迎使用"])
    c, _, _ = r.render(2, ["你好世界"])
    assert a[..., 3].sum() > 0
    # distinct characters give distinct glyphs (a font without CJK draws identical boxes)
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    assert abs(a.shape[1] - b.shape[1]) <= 4
    assert np.abs(a[:h, :w, 3].astype(int) - b[:h, :w, 3].astype(int)).sum() > 0.2 * a[..., 3].sum()
    assert np.array_equal(a, c)
    # a full-width line of 14 Chinese characters fits in the frame
    p, x, y = r.render(3, ["一二三四五六七八九十一二三四"])
    assert x >= 0 and p.shape[1] <= 720 and y + p.shape[0] <= 1280


def run_cli(capsys, *argv):
    from faceplay.cli import main

    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_srt_and_json(capsys, tmp_path, en_video):
    """The command on a real (synthesised) 12 s video: JSON on stdout, the SRT on disk agree."""
    from faceplay.speech.captions import read_captions

    code, out, err = run_cli(capsys, "captions", str(en_video), "-o", str(tmp_path / "c.srt"), "--max-chars", "20", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["language"] == "en" and data["cues"] and data["outputs"]["captions"].endswith("c.srt")
    assert data["rtf"] > 0
    cues = read_captions(tmp_path / "c.srt")
    assert [c.lines for c in cues] == [c["lines"] for c in data["cues"]]
    assert all(len(ln) <= 20 for c in cues for ln in c.lines)


def test_cli_srt_on_stdout_and_vtt(capsys, tmp_path, short_wav):
    code, out, err = run_cli(capsys, "captions", str(short_wav), "--lang", "en", "--beam-size", "1")
    assert code == 0, err
    assert out.startswith("1\n00:00:0") and "-->" in out and "caption" in out.lower()
    assert "captions:" in err and "s/s" in err  # the tqdm progress bar, on stderr only
    code, out, _ = run_cli(capsys, "captions", str(short_wav), "--beam-size", "1", "-o", str(tmp_path / "c.vtt"))
    assert code == 0 and "language en" in out
    assert (tmp_path / "c.vtt").read_text().startswith("WEBVTT\n\n00:00:0")


def test_cli_errors_are_one_line(capsys, tmp_path, en_wav):
    from .conftest import make_video

    mute = make_video(tmp_path / "mute.mp4", None, seconds=1.0)
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00\x01garbage" * 50)
    cases = [
        (("captions", str(mute)), "no audio track"),
        (("captions", str(junk)), "not an audio or video file"),
        (("captions", str(tmp_path / "missing.mp4")), "no such file"),
        (("captions", str(en_wav), "--burn", str(tmp_path / "x.mp4")), "no video stream"),
        (("captions", str(en_wav), "-o", str(tmp_path / "x.txt")), ".srt, .vtt or .json"),
    ]
    for argv, msg in cases:
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, (argv, err)
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_cli_silence_gives_empty_captions(capsys, tmp_path, videos_dir):
    code, out, err = run_cli(capsys, "captions", str(videos_dir / "talking_d3.mp4"), "-o", str(tmp_path / "s.srt"))
    assert code == 0, err
    assert "no speech" in out
    assert (tmp_path / "s.srt").read_text() == ""


def test_model_is_assembled_and_verified(whisper, tmp_path, monkeypatch):
    """The model folder matches the manifest; a damaged model.bin is refused with a clear message."""
    from faceplay.errors import ModelCorruptError
    from faceplay.models import store
    from faceplay.speech import model

    folder = model.ensure_model()
    m = store.info("whisper-base")
    assert (folder / "model.bin").stat().st_size == m.size
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    # assemble a fresh copy in another store, then damage it
    monkeypatch.setenv("FACEPLAY_HOME", str(tmp_path))
    fresh = model.ensure_model()
    assert fresh != folder and store.sha256_of(fresh / "model.bin") == m.sha256
    with open(fresh / "model.bin", "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelCorruptError, match="sha256"):
        model.ensure_model()
    # repairing re-assembles from the installed packages
    assert store.sha256_of(model.ensure_model(force=True) / "model.bin") == m.sha256

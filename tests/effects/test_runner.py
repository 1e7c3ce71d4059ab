"""Every effect in every running mode through the one runner, on real inputs (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.effects import create, effect_class
from faceplay.errors import ConfigError
from faceplay.face.types import RunningMode
from faceplay.media import read_image
from faceplay.media.frame import Frame
from faceplay.media.video import VideoReader, probe
from faceplay.runner import Runner

MODES = (RunningMode.IMAGE, RunningMode.VIDEO, RunningMode.LIVE)


def _make(name: str):
    if name == "avatar":
        return create("avatar", "robot", samples=0)
    if name == "relight":
        from faceplay.relight.lights import preset

        return create("relight", preset("left"), 1.0)
    return create("annotate", ["age", "gender"])


def _face_region_change(a: np.ndarray, b: np.ndarray, box) -> float:
    x, y, w, h = (int(v) for v in box)
    return float(np.abs(a[y:y + h, x:x + w].astype(int) - b[y:y + h, x:x + w].astype(int)).mean())


@pytest.mark.parametrize("name", ["avatar", "relight", "annotate"])
def test_image_mode(name, faces_dir, analyzer):
    rgb = read_image(faces_dir / "obama_obama.jpg")
    box = analyzer.analyze(rgb)[0].box
    with _make(name) as fx, Runner(fx, RunningMode.IMAGE) as run:
        out = run.image(rgb)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert _face_region_change(rgb, out, box) > 2.0  # the effect is visible on the face
        with pytest.raises(ConfigError, match="live mode"):
            run.push(rgb)
        with pytest.raises(ConfigError, match="video mode"):
            run.video(faces_dir / "short_hamilton_clip.mp4")


@pytest.mark.parametrize("name", ["avatar", "relight", "annotate"])
def test_video_mode_keeps_audio_and_reports_times(name, videos_dir, tmp_path):
    src = videos_dir / "talking_d3.mp4"  # has audio
    out = tmp_path / f"{name}.mp4"
    seen = []
    with _make(name) as fx, Runner(fx, RunningMode.VIDEO) as run:
        s = run.video(src, out, on_progress=lambda done, total: seen.append((done, total)),
                      should_stop=lambda: len(seen) >= 40)
        with pytest.raises(ConfigError, match="image mode"):
            run.image(np.zeros((64, 64, 3), np.uint8))
    assert s.stopped and s.frames == 40 and s.frames_with_faces >= 35
    assert seen[-1][0] == 40 and seen[-1][1] > 40
    assert {"decode", "track", "effect", "encode"} <= set(s.ms_per_stage)
    assert 0 < s.frame_ms["p50"] <= s.frame_ms["p99"] <= s.frame_ms["max"]
    meta = probe(out)
    assert meta["frames"] == 40 and meta["has_audio"]


@pytest.mark.parametrize("name", ["avatar", "relight", "annotate"])
def test_live_mode_one_output_per_pushed_frame(name, videos_dir):
    outs = []
    with _make(name) as fx, Runner(fx, RunningMode.LIVE) as run:
        with VideoReader(videos_dir / "talking_d19.mp4") as r:
            for fr in r:
                if fr.index >= 15:
                    break
                out = run.push(fr.rgb, fr.timestamp)
                outs.append((fr.rgb, out, run.last.faces))
        with pytest.raises(ConfigError, match="video mode"):
            run.video(videos_dir / "talking_d19.mp4")
    assert len(outs) == 15
    tracked = [(a, b, f) for a, b, f in outs if f]
    assert len(tracked) >= 12
    assert all(b.shape[:2] == a.shape[:2] for a, b, _ in outs)
    assert np.mean([_face_region_change(a, b, f[0].box) for a, b, f in tracked]) > 2.0


def test_effects_declare_modes_fields_and_refuse_unknown_ones():
    assert effect_class("avatar").name == "avatar"
    with pytest.raises(ConfigError, match="unknown effect"):
        effect_class("sparkles")
    fx = create("annotate", ["expression"])
    assert fx.fields == ("expression",)
    with pytest.raises(ConfigError, match="unknown running mode"):
        Runner(fx, "batch")


def test_avatar_stream_and_video_use_the_live_budget_photos_do_not(faces_dir):
    """The pixel budget and live lighting follow the running mode, not who calls."""
    from faceplay.avatar.effect import AvatarEffect

    rgb = read_image(faces_dir / "obama_obama.jpg")
    fx = AvatarEffect("robot", samples=0, fast_pixels=4_000)
    try:
        with Runner(fx, RunningMode.IMAGE) as run:
            faces = run.analyse(Frame(rgb)).faces
            photo = run.image(rgb, faces)
        with Runner(fx, RunningMode.LIVE) as run:
            live = run.push(rgb, 0.0)
        x, y, w, h = (int(v) for v in faces[0].box)
        # 4,000 rasterised pixels upscaled: the live head is visibly softer than the photo's
        sharp = lambda im: float(np.abs(np.diff(im[y:y + h, x:x + w].astype(int), axis=1)).mean())  # noqa: E731
        assert sharp(live) < 0.8 * sharp(photo)
    finally:
        fx.close()


def test_streams_and_photos_release_their_states(faces_dir, videos_dir, tmp_path):
    """A long-lived effect (the web app caches one per avatar) keeps no state per photo or finished stream."""
    from faceplay.avatar.effect import AvatarEffect

    rgb = read_image(faces_dir / "obama_obama.jpg")
    fx = AvatarEffect("robot", samples=0)
    try:
        for _ in range(4):
            fx.process_image(rgb)
        assert len(fx._states) == 1 and len(fx.avatars) == 1  # only the last photo's avatar, for reporting
        with fx.stream() as live, VideoReader(videos_dir / "talking_d19.mp4") as r:
            for fr in r:
                if fr.index >= 3:
                    break
                live.push(fr.rgb, fr.timestamp)
        assert [s.mode for s in fx._states] == [RunningMode.IMAGE]
    finally:
        fx.close()


def test_pipelined_live_gives_what_push_gives(videos_dir):
    """Runner.live tracks (and prepares the head matte) one frame ahead in a worker thread:
    the frames that come out are the ones push() makes, in order, pixel for pixel."""
    import itertools

    def frames():
        with VideoReader(videos_dir / "talking_d13.mp4") as r:
            yield from itertools.islice(r, 20)

    with create("avatar", "toon", samples=0) as fx:
        with Runner(fx, RunningMode.LIVE) as run:
            pushed = [run.push(f.rgb, f.timestamp) for f in frames()]
        with Runner(fx, RunningMode.LIVE) as run:
            live = list(run.live(frames()))
            assert {"track", "prepare", "effect"} <= set(run.clock.ms)
    assert [r.index for r, _ in live] == list(range(20))
    assert sum(bool(r.faces) for r, _ in live) == 20
    for a, (_, b) in zip(pushed, live):
        assert np.array_equal(a, b)
    # stopping early (a closed camera window) ends the worker thread
    with create("avatar", "robot", samples=0) as fx, Runner(fx, RunningMode.LIVE) as run:
        for i, _ in enumerate(run.live(frames())):
            if i == 3:
                break
    import threading

    assert not [t for t in threading.enumerate() if t.name.startswith("faceplay-avatar-track")]

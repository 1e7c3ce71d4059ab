"""The web live avatar and the CLI/library stream are one path: the same frames and faces give
the same pixels (so the web page gets the live budget the stream gets) — issue 12."""

from __future__ import annotations

import numpy as np

from faceplay.avatar.effect import AvatarEffect
from faceplay.face.types import FrameResult, RunningMode
from faceplay.media.frame import Frame
from faceplay.media.video import VideoReader
from faceplay.runner import Runner


def test_web_live_avatar_renders_like_the_live_runner(videos_dir, analyzer):
    from faceplay.web.avatar_glue import LIVE_SAMPLES, LiveAvatar

    frames = []
    with VideoReader(videos_dir / "talking_d3.mp4") as r, analyzer.tracker() as tr:
        for fr in r:
            if fr.index >= 8:
                break
            frames.append((fr.rgb, tr.update(fr.rgb, fr.timestamp)))
    assert sum(bool(f) for _, f in frames) >= 6
    web = LiveAvatar("robot", "replace", samples=LIVE_SAMPLES)
    fx = AvatarEffect("robot", mode="replace", samples=LIVE_SAMPLES)
    try:
        with Runner(fx, RunningMode.LIVE) as run:
            prepared = 0
            for rgb, faces in frames:
                frame, web_frame = Frame(rgb), Frame(rgb)
                fx.prepare(frame, faces, run.state)  # the runner's track thread does this
                web.prepare(web_frame, faces)  # the web server's track thread does this
                prepared += web_frame.get("person_matte") is not None
                ours = run.render(FrameResult(0, 0.0, faces, frame))
                theirs = web.frame(rgb, faces, web_frame.get("person_matte"))
                assert theirs.shape == ours.shape
                assert np.abs(theirs.astype(int) - ours.astype(int)).mean() < 0.5
            assert prepared >= 3  # the head matte is made on the track thread (every other frame)
        assert web.state.mode is RunningMode.LIVE  # the web stream's state is a LIVE state: live budget
    finally:
        fx.close()
        web.fx.close()

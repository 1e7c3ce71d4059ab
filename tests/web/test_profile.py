"""`faceplay serve --profile`: live avatars take a calibration profile (issue 16); a bad one is one line."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceplay.face.types import BLENDSHAPE_NAMES


def _frames(videos_dir, n=6):
    from faceplay.media.video import VideoReader

    out = []
    with VideoReader(videos_dir / "talking_d0.mp4") as r:  # grimaces: strong expressions
        for i, f in enumerate(r):
            if i % 5 == 0:
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(f.rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
                out.append(buf.tobytes())
            if len(out) >= n:
                break
    return out


def _session(settings, frames):
    from fastapi.testclient import TestClient

    from faceplay.web.app import create_app

    outs = []
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws/live/avatar") as ws:
        ws.send_text(json.dumps({"type": "settings", "avatar": "robot", "mode": "avatar-only"}))
        ws.receive_text()
        for i, jpeg in enumerate(frames):
            ws.send_bytes(struct.pack("<I", i + 1) + jpeg)
            while True:
                m = ws.receive()
                if m.get("bytes") is not None:
                    outs.append(cv2.imdecode(np.frombuffer(m["bytes"][16:], np.uint8), cv2.IMREAD_COLOR).astype(np.float32))
                    break
    return outs


def test_live_avatar_follows_the_servers_profile(videos_dir, tmp_path):
    from faceplay.web.config import Settings

    frozen = tmp_path / "frozen.json"  # every expression's gain 0: the avatar keeps a neutral face
    frozen.write_text(json.dumps({"format": "faceplay-profile", "version": 1, "smoothing": 0.0,
                                  "neutral": {}, "gain": {n: 0.0 for n in BLENDSHAPE_NAMES}, "curve": {},
                                  "head_neutral": [0, 0, 0, 1]}))
    frames = _frames(videos_dir)
    plain = _session(Settings(data_dir=tmp_path / "a"), frames)
    still = _session(Settings(data_dir=tmp_path / "b", profile=frozen), frames)
    assert len(plain) == len(still) == len(frames)
    # same frames, same head poses: only the expressions differ, and they do on these grimaces
    assert max(np.abs(a - b).mean() for a, b in zip(plain, still)) > 1.0
    # with every gain at 0 the avatar's face changes less from frame to frame than without the profile
    motion = lambda outs: np.mean([np.abs(outs[k + 1] - outs[k]).mean() for k in range(len(outs) - 1)])  # noqa: E731
    assert motion(still) < motion(plain)


def test_serve_with_a_bad_profile_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "serve", "--port", "0", "--data", str(tmp_path / "d"),
                        "--profile", str(bad)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "profile" in lines[0] and "--calibrate" in lines[0], p.stderr

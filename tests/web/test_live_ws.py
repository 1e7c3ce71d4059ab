"""The live WebSocket loop: effect frames come back, stale frames are dropped (never queued), bad input is reported."""

from __future__ import annotations

import json
import struct

import cv2
import numpy as np
import pytest

HEADER = struct.Struct("<IfII")


@pytest.fixture(scope="module")
def frames(videos_dir):
    from faceplay.media.video import VideoReader

    out = []
    with VideoReader(videos_dir / "talking_d0.mp4") as r:
        for i, f in enumerate(r):
            if i % 3 == 0:
                rgb = cv2.resize(f.rgb, (480, 480))
                rgb = np.pad(rgb, ((0, 0), (80, 80), (0, 0)), constant_values=96)
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
                out.append((rgb, buf.tobytes()))
            if len(out) >= 12:
                break
    return out


def _collect(ws, n_sent):
    """Read until every sent frame is answered or reported dropped."""
    replies, dropped, errors = {}, set(), []
    while len(replies) + len(dropped) + len(errors) < n_sent:
        m = ws.receive()
        if m.get("bytes") is not None:
            fid, ms, total, faces = HEADER.unpack_from(m["bytes"])
            img = cv2.imdecode(np.frombuffer(m["bytes"][16:], np.uint8), cv2.IMREAD_COLOR)
            replies[fid] = (ms, total, faces, img)
        else:
            d = json.loads(m["text"])
            if d["type"] == "dropped":
                dropped.add(d["id"])
            elif d["type"] == "error" and "id" in d:
                errors.append(d)
    return replies, dropped, errors


def test_relight_stream_drops_stale_frames(client, frames):
    with client.websocket_connect("/ws/live/relight") as ws:
        ws.send_text(json.dumps({"type": "settings", "az": -70, "el": 10}))
        assert json.loads(ws.receive_text())["type"] == "info"
        # a burst of 12 frames without waiting: the server must not queue them all
        for i, (_, jpeg) in enumerate(frames):
            ws.send_bytes(struct.pack("<I", i + 1) + jpeg)
        replies, dropped, errors = _collect(ws, len(frames))
    assert not errors
    assert dropped, "a burst must make the server drop stale frames"
    assert len(frames) in replies, "the newest frame is always processed"
    assert set(replies) | dropped == set(range(1, len(frames) + 1))
    for ms, _total, faces, img in replies.values():
        assert img.shape == (480, 640, 3) and faces == 1 and ms > 0
    # the relit frame differs from the camera frame
    rgb_in = frames[-1][0].astype(np.float32)
    out = cv2.cvtColor(replies[len(frames)][3], cv2.COLOR_BGR2RGB).astype(np.float32)
    assert np.abs(out - rgb_in).mean() > 2


def test_avatar_stream_moves_with_the_video(client, frames):
    if not client.get("/api/health").json()["features"]["avatar"]:
        pytest.skip("the avatar module is not in this build")
    outs, infos = [], []
    with client.websocket_connect("/ws/live/avatar") as ws:
        ws.send_text(json.dumps({"type": "settings", "avatar": "robot", "mode": "replace"}))
        assert json.loads(ws.receive_text())["type"] == "info"
        for i, (_, jpeg) in enumerate(frames[:6]):  # one at a time: nothing is dropped
            ws.send_bytes(struct.pack("<I", i + 1) + jpeg)
            while True:
                m = ws.receive()
                if m.get("bytes") is not None:
                    outs.append(cv2.cvtColor(cv2.imdecode(np.frombuffer(m["bytes"][16:], np.uint8), cv2.IMREAD_COLOR),
                                             cv2.COLOR_BGR2RGB).astype(np.float32))
                    break
                infos.append(json.loads(m["text"]))
    assert len(outs) == 6
    face = (slice(100, 420), slice(200, 440))
    # the head region is the avatar (not the camera) and it changes frame to frame
    assert all(np.abs(o[face] - f[0][face].astype(np.float32)).mean() > 10 for o, f in zip(outs, frames))
    assert np.mean([np.abs(outs[k + 1][face] - outs[k][face]).mean() for k in range(5)]) > 0.5
    with client.websocket_connect("/ws/live/avatar") as ws_bad:
        ws_bad.send_text(json.dumps({"type": "settings", "avatar": "../x"}))
        assert "choose one of" in json.loads(ws_bad.receive_text())["error"]


def test_bad_frames_and_settings_keep_the_session(client, frames):
    with client.websocket_connect("/ws/live/relight") as ws:
        ws.send_text("not json")
        assert json.loads(ws.receive_text())["type"] == "error"
        ws.send_text(json.dumps({"type": "settings", "az": 400}))
        err = json.loads(ws.receive_text())
        assert err["type"] == "error" and "az" in err["error"]
        ws.send_bytes(struct.pack("<I", 7) + b"this is not a jpeg")
        err = json.loads(ws.receive_text())
        assert err["type"] == "error" and err["id"] == 7
        ws.send_bytes(struct.pack("<I", 8) + frames[0][1])  # the session still works
        replies, _, errors = _collect(ws, 1)
        assert 8 in replies and not errors


def test_unknown_effect_is_refused(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/ws/live/../../etc") as ws:
            ws.receive_text()
    assert e.value.code in (1000, 1008)

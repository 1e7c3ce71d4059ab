"""`faceplay track` end to end: a real OSC/UDP listener on 127.0.0.1, real CSV and glTF takes of a real clip.

One run of the CLI (3 s of talking_d3.mp4 where the mouth opens and the head
turns) feeds every output at once; the tests check each output against the
JSON lines and against landmarks measured independently by the tracker.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

FACEPLAY = [sys.executable, "-m", "faceplay.cli"]
START, SECONDS = 8.5, 3.0


def run(*args, timeout=300):
    return subprocess.run([*FACEPLAY, *map(str, args)], capture_output=True, text=True, timeout=timeout)


class Listener:
    """A python-osc UDP server on 127.0.0.1 in a thread, keeping every message in arrival order."""

    def __init__(self) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        self.messages: list[tuple[str, tuple]] = []
        d = Dispatcher()
        d.set_default_handler(lambda address, *args: self.messages.append((address, args)))
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), d)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def frames(self) -> list[dict]:
        """Messages grouped per bundle: OK starts a frame, Apply ends it."""
        out, cur = [], None
        for addr, args in self.messages:
            if addr == "/VMC/Ext/OK":
                cur = {"ok": args, "blend": {}, "bones": {}, "applied": False}
            elif cur is None:
                continue
            elif addr == "/VMC/Ext/T":
                cur["t"] = args[0]
            elif addr == "/VMC/Ext/Root/Pos":
                cur["root"] = args
            elif addr == "/VMC/Ext/Bone/Pos":
                cur["bones"][args[0]] = args[1:]
            elif addr == "/VMC/Ext/Blend/Val":
                cur["blend"][args[0]] = args[1]
            elif addr == "/VMC/Ext/Blend/Apply":
                cur["applied"] = True
                out.append(cur)
                cur = None
        return out


@pytest.fixture(scope="module")
def take(clip, tmp_path_factory):
    """One `faceplay track` run: --json, --send to a real listener, --record .csv and .glb."""
    pytest.importorskip("pythonosc")
    d = tmp_path_factory.mktemp("take")
    lst = Listener()
    try:
        r = run("track", clip, "--start", START, "--seconds", SECONDS, "--json", "--send", f"vmc://127.0.0.1:{lst.port}",
                "--record", d / "take.csv", "--record", d / "take.glb")
        time.sleep(0.3)  # the last datagrams
    finally:
        lst.close()
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    return {"lines": lines, "vmc": lst.frames(), "raw": lst.messages, "csv": d / "take.csv", "glb": d / "take.glb"}


@pytest.fixture(scope="module")
def landmarks(clip):
    """Independent measures per frame from the tracker's landmarks: lip gap and a nose-offset yaw proxy."""
    from faceplay.face.track import FaceTracker
    from faceplay.media.video import VideoReader

    gap, turn = {}, {}
    with VideoReader(clip) as video, FaceTracker(max_faces=1) as tr:
        for f in video:
            if f.timestamp < START - 1e-6:
                continue
            if f.timestamp - START > SECONDS:
                break
            faces = tr.update(f.rgb, f.timestamp)
            if faces:
                lm = faces[0].landmarks
                eye = np.linalg.norm(lm[33, :2] - lm[263, :2])
                gap[f.index] = float(np.linalg.norm(lm[13, :2] - lm[14, :2]) / eye)
                mid = (lm[234, 0] + lm[454, 0]) / 2
                turn[f.index] = float((lm[1, 0] - mid) / abs(lm[454, 0] - lm[234, 0]))
    return gap, turn


def test_json_lines(take):
    lines = take["lines"]
    assert 80 <= len(lines) <= 95  # 3 s at 30 fps
    from faceplay.face.types import BLENDSHAPE_NAMES

    for ln in lines:
        assert set(ln["blendshapes"]) == set(BLENDSHAPE_NAMES)
        assert set(ln["head"]) >= {"yaw", "pitch", "roll", "rotation", "translation"}
        assert set(ln["gaze"]) == {"left", "right"} and set(ln["gaze"]["left"]) == {"yaw", "pitch"}
        assert ln["tracked"]
    frames = [ln["frame"] for ln in lines]
    assert frames == list(range(frames[0], frames[0] + len(frames)))
    assert abs(lines[0]["timestamp"] - START) < 0.05


def test_vmc_one_apply_per_frame_with_all_perfect_sync_names(take):
    from faceplay.creator.arkit import PERFECT_SYNC, VRM_PRESET_NAMES

    vmc, lines = take["vmc"], take["lines"]
    applies = sum(1 for a, _ in take["raw"] if a == "/VMC/Ext/Blend/Apply")
    assert applies == len(lines) == len(vmc)
    names = set(PERFECT_SYNC.values())
    assert "JawOpen" in names and "EyeBlinkLeft" in names and "TongueOut" in names
    for fr, ln in zip(vmc, lines):
        assert set(fr["blend"]) == names | set(VRM_PRESET_NAMES)
        assert fr["ok"][0] == 1 and fr["ok"][3] == 1
        assert abs(fr["t"] - ln["timestamp"]) < 1e-3
        assert set(fr["bones"]) == {"Head", "Neck"} and fr["root"][0] == "root"
        assert abs(fr["blend"]["JawOpen"] - ln["blendshapes"]["jawOpen"]) < 1e-3
    order = [a for a, _ in take["raw"][: 5 + len(names) + len(VRM_PRESET_NAMES) + 1]]
    assert order[:5] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos", "/VMC/Ext/Bone/Pos", "/VMC/Ext/Bone/Pos"]
    assert order[-1] == "/VMC/Ext/Blend/Apply"


def test_vmc_jaw_open_follows_the_mouth(take, landmarks):
    gap, _ = landmarks
    idx = [ln["frame"] for ln in take["lines"]]
    jaw = np.array([fr["blend"]["JawOpen"] for fr in take["vmc"]])
    g = np.array([gap[i] for i in idx])
    open_, closed = g >= np.quantile(g, 0.8), g <= np.quantile(g, 0.2)
    assert g[open_].mean() > 3 * g[closed].mean()  # the section really has open and closed mouths
    assert jaw[open_].mean() > 0.3, jaw[open_]
    assert jaw[closed].mean() < 0.1, jaw[closed]
    assert np.corrcoef(jaw, g)[0, 1] > 0.8


def test_vmc_head_bone_rotates_with_the_head(take, landmarks):
    from faceplay.creator.arkit import quat_to_matrix
    from faceplay.face.pose import euler_from_matrix

    _, turn = landmarks
    idx = [ln["frame"] for ln in take["lines"]]
    yaws = []
    for fr in take["vmc"]:
        x, y, z, w = fr["bones"]["Head"][3:7]
        assert abs(math.sqrt(x * x + y * y + z * z + w * w) - 1) < 1e-4
        yaws.append(euler_from_matrix(quat_to_matrix((x, -y, -z, w)))[0])  # Unity -> faceplay axes
    yaws = np.array(yaws)
    assert yaws.max() - yaws.min() > 10  # the head turns by more than 10 degrees in this section
    nose = np.array([turn[i] for i in idx])
    assert abs(np.corrcoef(yaws, nose)[0, 1]) > 0.8
    json_yaw = np.array([ln["head"]["yaw"] for ln in take["lines"]])
    assert np.abs(yaws - json_yaw).max() < 0.1


def test_csv_has_live_link_face_columns_and_one_row_per_frame(take):
    from faceplay.creator.arkit import LLF_ORDER

    with open(take["csv"], newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["Timecode", "BlendShapeCount"]
    assert header[2:54] == list(LLF_ORDER) and header[2:5] == ["EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft"]
    assert header[54:] == ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                           "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    assert len(body) == len(take["lines"])
    col = {h: i for i, h in enumerate(header)}
    for row, ln in zip(body, take["lines"]):
        assert len(row) == len(header) and int(row[1]) == 61
        hh, mm, ss, rest = row[0].split(":")
        ff, sub = rest.split(".")
        t = int(hh) * 3600 + int(mm) * 60 + int(ss) + (int(ff) + int(sub) / 1000) / 30
        assert abs(t - ln["timestamp"]) < 0.002
        assert abs(float(row[col["JawOpen"]]) - ln["blendshapes"]["jawOpen"]) < 1e-4
        assert abs(float(row[col["MouthSmileLeft"]]) - ln["blendshapes"]["mouthSmileLeft"]) < 1e-4
        assert abs(float(row[col["HeadYaw"]]) - math.radians(ln["head"]["yaw"])) < 1e-4


def _accessor(g, blob, i):
    a = g.accessors[i]
    v = g.bufferViews[a.bufferView]
    n = {"SCALAR": 1, "VEC4": 4}[a.type]
    assert a.componentType == 5126
    return np.frombuffer(blob, np.float32, a.count * n, (v.byteOffset or 0) + (a.byteOffset or 0)).reshape(a.count, n)


@pytest.mark.filterwarnings("ignore:pygltf.utils.validator is a provisional")
def test_glb_take_plays_weights_and_rotation_one_key_per_frame(take):
    import pygltflib
    from pygltflib.validator import validate

    from faceplay.face.types import BLENDSHAPE_NAMES

    g = pygltflib.GLTF2().load(str(take["glb"]))
    validate(g)  # raises on structural errors
    blob = g.binary_blob()
    for v in g.bufferViews:
        assert v.byteOffset + v.byteLength <= len(blob)
    n = len(take["lines"])
    (anim,) = g.animations
    paths = {c.target.path: c for c in anim.channels}
    assert set(paths) == {"weights", "rotation"}
    wch, rch = paths["weights"], paths["rotation"]
    ws, rs = anim.samplers[wch.sampler], anim.samplers[rch.sampler]
    t = _accessor(g, blob, ws.input)[:, 0]
    assert len(t) == n and t[0] == 0 and np.all(np.diff(t) > 0)
    assert g.accessors[ws.input].min == [0.0] and abs(g.accessors[ws.input].max[0] - t[-1]) < 1e-6
    node = g.nodes[wch.target.node]
    names = g.meshes[node.mesh].extras["targetNames"]
    w = _accessor(g, blob, ws.output).reshape(n, len(names))
    for k, ln in enumerate(take["lines"]):
        for name in BLENDSHAPE_NAMES:
            assert abs(w[k, names.index(name)] - ln["blendshapes"][name]) < 2e-4, (k, name)
    q = _accessor(g, blob, rs.output)
    assert q.shape == (n, 4) and np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-4)
    json_q = np.array([ln["head"]["rotation"] for ln in take["lines"]])
    assert np.abs(q - json_q).max() < 1e-4
    head = g.nodes[rch.target.node]
    assert head.name == "Head" and g.scenes[g.scene].nodes == [rch.target.node]
    parts = {(p.extras or {}).get("name") for p in g.meshes[node.mesh].primitives}
    assert "hair_short" in parts and "hair_long" not in parts and "beard" not in parts  # default look only


def test_realtime_paces_bundles_at_the_frame_rate():
    """--realtime on a file: bundles leave no faster than the clip's 30 fps (the clip ships with the repository)."""
    from pathlib import Path

    pytest.importorskip("pythonosc")
    clip = Path(__file__).resolve().parents[2] / "examples" / "talking_3s.mp4"
    lst = Listener()
    arrivals: list[float] = []
    lst.server.dispatcher.map("/VMC/Ext/Blend/Apply", lambda *a: arrivals.append(time.monotonic()))
    try:
        r = run("track", clip, "--max-frames", 20, "--realtime", "--send", f"vmc://127.0.0.1:{lst.port}")
        time.sleep(0.3)
    finally:
        lst.close()
    assert r.returncode == 0, r.stderr
    assert "sent 20 VMC bundles" in r.stdout
    assert len(arrivals) == 20
    assert arrivals[-1] - arrivals[0] >= 19 / 30 * 0.9


def test_take_of_another_avatar_from_the_same_samples(take, tmp_path):
    """The robot avatar takes the same per-frame samples (rebuilt from the JSON lines of the real run)."""
    import pygltflib

    from faceplay.creator.arkit import quat_to_matrix
    from faceplay.creator.sample import Sample
    from faceplay.creator.take import GlbTakeWriter
    from faceplay.face.types import BLENDSHAPE_NAMES

    w = GlbTakeWriter(tmp_path / "robot.glb", "robot")
    for ln in take["lines"]:
        w.write(Sample(ln["frame"], ln["timestamp"], ln["tracked"],
                       np.array([ln["blendshapes"][n] for n in BLENDSHAPE_NAMES], np.float32),
                       quat_to_matrix(ln["head"]["rotation"]), np.array(ln["head"]["translation"])))
    w.close()
    g = pygltflib.GLTF2().load(str(tmp_path / "robot.glb"))
    blob = g.binary_blob()
    (anim,) = g.animations
    n = len(take["lines"])
    for c in anim.channels:
        s = anim.samplers[c.sampler]
        assert g.accessors[s.input].count == n
        if c.target.path == "weights":
            names = g.meshes[g.nodes[c.target.node].mesh].extras["targetNames"]
            wts = _accessor(g, blob, s.output).reshape(n, len(names))
            jaw = np.array([ln["blendshapes"]["jawOpen"] for ln in take["lines"]])
            assert np.abs(wts[:, names.index("jawOpen")] - jaw).max() < 2e-4

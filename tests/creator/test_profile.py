"""Calibration profiles: `faceplay track --calibrate` on a real clip, `--profile` applied exactly, the avatar driver hook."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from faceplay.face.types import BLENDSHAPE_NAMES

FACEPLAY = [sys.executable, "-m", "faceplay.cli"]


def run(*args, timeout=300):
    return subprocess.run([*FACEPLAY, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def lines(r) -> list[dict]:
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


@pytest.fixture(scope="module")
def raw(clip):
    """Unshaped tracker output of the first 2 s."""
    return lines(run("track", clip, "--seconds", 2, "--json"))


def shaped(raw_line: dict, prof: dict) -> np.ndarray:
    r = np.array([raw_line["blendshapes"][n] for n in BLENDSHAPE_NAMES])
    n = np.array([prof["neutral"][k] for k in BLENDSHAPE_NAMES])
    g = np.array([prof["gain"][k] for k in BLENDSHAPE_NAMES])
    c = np.array([prof["curve"][k] for k in BLENDSHAPE_NAMES])
    return np.clip(np.clip((r - n) / np.maximum(1 - n, 1e-3), 0, 1) ** c * g, 0, 1)


def test_calibrate_then_profile_shapes_every_frame(clip, raw, tmp_path):
    prof_path = tmp_path / "me.json"
    cal = lines(run("track", clip, "--seconds", 2, "--json", "--calibrate", prof_path, "--calibrate-seconds", 1,
                    "--smoothing", 0, "--gain", "mouth=1.5", "--curve", 0.8))
    prof = json.loads(prof_path.read_text())
    assert prof["format"] == "faceplay-profile" and prof["version"] == 1 and prof["smoothing"] == 0
    assert set(prof["neutral"]) == set(BLENDSHAPE_NAMES) and prof["info"]["frames"] >= 29
    first = [ln for ln in raw if ln["timestamp"] <= 1.0 + 1e-6]
    med = np.median([ln["blendshapes"]["eyeSquintLeft"] for ln in first])
    assert abs(prof["neutral"]["eyeSquintLeft"] - med) < 2e-3 and prof["neutral"]["eyeSquintLeft"] > 0.05
    assert prof["neutral"]["eyeLookInLeft"] == 0  # gaze is not calibrated
    assert prof["gain"]["mouthSmileLeft"] == 1.5 and prof["gain"]["jawOpen"] == 1.0 and prof["curve"]["jawOpen"] == 0.8
    assert abs(np.linalg.norm(prof["head_neutral"]) - 1) < 1e-4
    # while calibrating the frames are raw, afterwards shaped by the new profile
    assert len(cal) == len(raw)
    for a, b in zip(cal, raw):
        got = np.array([a["blendshapes"][n] for n in BLENDSHAPE_NAMES])
        want = np.array([b["blendshapes"][n] for n in BLENDSHAPE_NAMES]) if a["timestamp"] <= 1.0 + 1e-6 else shaped(b, prof)
        assert np.abs(got - want).max() < 3e-3, a["frame"]
    # --profile shapes from the first frame; the head pose is taken relative to the resting head
    used = lines(run("track", clip, "--seconds", 1, "--json", "--profile", prof_path))
    for a, b in zip(used, raw):
        got = np.array([a["blendshapes"][n] for n in BLENDSHAPE_NAMES])
        assert np.abs(got - shaped(b, prof)).max() < 3e-3
    assert abs(np.mean([ln["head"]["yaw"] for ln in used])) < abs(np.mean([ln["head"]["yaw"] for ln in raw[:len(used)]])) + 1
    assert np.mean([ln["blendshapes"]["eyeSquintLeft"] for ln in used]) < np.mean([ln["blendshapes"]["eyeSquintLeft"]
                                                                                   for ln in raw[:len(used)]])


def test_bad_profiles_are_one_line_errors(clip, tmp_path):
    cases = {
        "not json {": "not a readable profile JSON",
        json.dumps({"hello": 1}): "not a faceplay profile",
        json.dumps({"format": "faceplay-profile", "version": 1, "gain": {"jawOpen": 9}}): "gain.jawOpen = 9",
        json.dumps({"format": "faceplay-profile", "version": 1, "neutral": {"jawOpne": 0.1}}): "unknown blendshape 'jawOpne'",
    }
    for i, (text, msg) in enumerate(cases.items()):
        p = tmp_path / f"bad{i}.json"
        p.write_text(text)
        r = run("track", clip, "--max-frames", 1, "--profile", p)
        assert r.returncode == 2, r.stderr
        assert msg in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = run("track", clip, "--profile", tmp_path / "missing.json")
    assert r.returncode == 2 and "--calibrate" in r.stderr


def test_avatar_driver_takes_the_profile(analyzer, faces_dir):
    """The avatar's FaceDriver with a profile: fixed neutral (no learning), gains and curves per blendshape."""
    from faceplay.avatar.driver import FaceDriver
    from faceplay.creator.profile import Profile
    from faceplay.creator.sample import raw_weights

    face = analyzer.analyze(faces_dir / "obama3.jpg")[0]
    raw = raw_weights(face)
    prof = Profile(neutral={"eyeSquintLeft": 0.2, "jawOpen": 0.0}, gain={"mouthSmileLeft": 2.0}, curve={"eyeBlinkLeft": 0.5})
    drv = FaceDriver(prof.driver_settings(smoothing=0.0))
    for _ in range(5):
        w = drv.weights(face)
    i = {n: k for k, n in enumerate(BLENDSHAPE_NAMES)}
    assert drv.neutral[i["eyeSquintLeft"]] == pytest.approx(0.2)  # not re-learnt from the frames
    assert drv.neutral[i["browDownLeft"]] == 0  # only what the profile says
    want_squint = np.clip((raw[i["eyeSquintLeft"]] - 0.2) / 0.8, 0, 1) * drv.gain[i["eyeSquintLeft"]]
    assert w[i["eyeSquintLeft"]] == pytest.approx(min(1.0, want_squint), abs=1e-5)
    want_blink = np.clip(raw[i["eyeBlinkLeft"]], 0, 1) ** 0.5 * drv.gain[i["eyeBlinkLeft"]]
    assert w[i["eyeBlinkLeft"]] == pytest.approx(min(1.0, want_blink), abs=1e-5)
    assert drv.gain[i["mouthSmileLeft"]] == pytest.approx(2.0 * 1.2)  # the profile's gain times the cartoon boost


def test_avatar_driver_can_remove_the_resting_head_rotation(analyzer, faces_dir):
    """With neutral_head the profile's resting rotation is taken out of the model matrix (side-by-side / avatar-only)."""
    from faceplay.avatar.driver import FaceDriver
    from faceplay.creator.arkit import matrix_to_quat
    from faceplay.creator.profile import Profile

    face = analyzer.analyze(faces_dir / "obama3.jpg")[0]
    m = np.asarray(face.pose.matrix, np.float64)
    u, _, vt = np.linalg.svd(m[:3, :3])
    rest = matrix_to_quat(u @ vt)  # this very face is the resting pose
    drv = FaceDriver(Profile(head_neutral=tuple(rest)).driver_settings(pose_smoothing=0.0))
    same = drv.pose(face, temporal=False)
    assert np.allclose(same, m, atol=1e-5)  # replace mode: the real head's pose, untouched
    straight = drv.pose(face, temporal=False, neutral_head=True)
    r = straight[:3, :3] / np.cbrt(np.linalg.det(straight[:3, :3]))
    assert np.allclose(r, np.eye(3), atol=1e-4) and np.allclose(straight[:3, 3], m[:3, 3], atol=1e-4)

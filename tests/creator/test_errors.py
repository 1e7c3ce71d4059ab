"""One-line errors of `faceplay track` and `faceplay avatar --virtual-camera` on this machine (no camera, no v4l2loopback)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

FACEPLAY = [sys.executable, "-m", "faceplay.cli"]


def run(*args, timeout=120):
    return subprocess.run([*FACEPLAY, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def one_line(r, code=2) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stderr.startswith("faceplay: error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    return r.stderr


def _has_loopback() -> bool:
    for dev in glob.glob("/sys/class/video4linux/video*/name"):
        try:
            if "loopback" in open(dev).read().lower() or "dummy" in open(dev).read().lower():
                return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(os.path.exists("/dev/video7"), reason="this machine has a /dev/video7")
def test_track_camera_that_does_not_exist():
    err = one_line(run("track", "--camera", 7))
    assert "/dev/video7" in err and "does not exist" in err


@pytest.mark.skipif(_has_loopback(), reason="this machine has a v4l2loopback device")
def test_virtual_camera_without_backend_names_it():
    pytest.importorskip("pyvirtualcam")
    err = one_line(run("avatar", "--camera", 0, "--virtual-camera"))
    assert "v4l2loopback" in err and "modprobe v4l2loopback" in err


def test_camera_needs_a_live_output():
    assert "--virtual-camera" in one_line(run("avatar", "--camera", 0))


@pytest.mark.parametrize("url", ["vmc://127.0.0.1", "osc://127.0.0.1:39539", "vmc://:39539", "vmc://h:99999"])
def test_bad_send_urls(url, tmp_path):
    assert "vmc://HOST:PORT" in one_line(run("track", tmp_path / "x.mp4", "--send", url))


def test_bad_inputs(tmp_path):
    assert "no such file" in one_line(run("track", tmp_path / "missing.mp4"))
    assert ".csv" in one_line(run("track", tmp_path / "x.mp4", "--record", tmp_path / "take.fbx"))
    assert "either" in one_line(run("track"))
    assert "--calibrate" in one_line(run("track", tmp_path / "x.mp4", "--gain", "mouth=2"))


def test_help_lists_track():
    r = run("--help")
    assert r.returncode == 0 and "track" in r.stdout
    r = run("track", "--help")
    assert r.returncode == 0 and "--send" in r.stdout and "--json" in r.stdout and "--record" in r.stdout

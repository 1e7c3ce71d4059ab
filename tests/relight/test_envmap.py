"""--env: an equirectangular HDR environment made here (a sun on one side) lights real faces from that side."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceplay.errors import InputError
from faceplay.relight.envmap import light_from_env, project_env, read_env
from tests.relight.helpers import analyse, cli_json, halves

NAMES = ["obama3.jpg", "rose_leslie_img1.jpg", "kit_harington_john1.jpeg"]


def sun_env(path, az: float, el: float = 15.0, h: int = 256) -> str:
    """A dim, slightly blue sky with a small, very bright warm sun at (az, el), written as Radiance .hdr."""
    w = 2 * h
    rows = np.linspace(1.0, 0.0, h)[:, None, None]
    env = (0.03 + 0.03 * rows) * np.array([0.8, 0.9, 1.0]) * np.ones((h, w, 3))
    u, v = int((az + 180) / 360 * w), int((90 - el) / 180 * h)
    cv2.circle(env, (u, v), max(h // 40, 2), (400.0, 380.0, 340.0), -1)
    assert cv2.imwrite(str(path), np.ascontiguousarray(env[..., ::-1], np.float32))
    return str(path)


@pytest.fixture(scope="module")
def photos(faces_dir):
    return analyse(faces_dir, NAMES)


def test_hdr_is_read_linear_and_projects_the_sun_direction(tmp_path):
    p = sun_env(tmp_path / "sun.hdr", -70)
    env = read_env(p)
    assert env.dtype == np.float32 and env.shape == (256, 512, 3) and env.max() > 300
    sh = project_env(cv2.resize(env, (128, 64), interpolation=cv2.INTER_AREA))
    assert sh[3].mean() < 0  # band 1, x: the light comes from the image's left
    _, info = light_from_env(p)
    key = info["key_lights"][0]
    assert abs(key["az"] + 70) < 4 and abs(key["el"] - 15) < 4 and key["share"] > 0.5
    assert key["color"][2] < key["color"][0]  # a warm sun
    _, info2 = light_from_env(p, 180)
    assert abs(info2["key_lights"][0]["az"] - 110) < 4


@pytest.mark.parametrize("az", [-70, 60])
def test_env_lights_the_face_from_the_sun_side_and_rotation_flips_it(photos, relighter, tmp_path, az):
    p = sun_env(tmp_path / f"sun{az}.hdr", az)
    for name, (rgb, faces) in photos.items():
        sides = {}
        for rot in (0, 180):
            rig, _ = light_from_env(p, rot)
            sides[rot] = halves(relighter.relight(rgb, faces, rig, 1.0).image, faces[0])
        (l0, r0), (l1, r1) = sides[0], sides[180]
        if az < 0:
            assert l0 > 1.15 * r0 and r1 > 1.15 * l1, f"{name}: {sides}"
        else:
            assert r0 > 1.15 * l0 and l1 > 1.15 * r1, f"{name}: {sides}"


def test_cli_env_reports_the_lights_and_bad_files_are_one_line_errors(faces_dir, tmp_path):
    from tests.relight.helpers import cli

    p = sun_env(tmp_path / "sun.hdr", -70)
    info = cli_json("relight", faces_dir / "obama-240p.jpg", "-o", tmp_path / "o.jpg", "--env", p, "--env-rotate", 90)
    assert info["faces"] == 1 and info["env"]["rotate"] == 90 and abs(info["env"]["key_lights"][0]["az"] - 20) < 4
    bad = tmp_path / "bad.exr"
    bad.write_bytes(b"not an image")
    r = cli("relight", faces_dir / "obama-240p.jpg", "-o", tmp_path / "o.jpg", "--env", bad)
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert ".hdr" in r.stderr
    with pytest.raises(InputError, match="twice as wide"):
        cv2.imwrite(str(tmp_path / "square.hdr"), np.ones((32, 32, 3), np.float32))
        read_env(tmp_path / "square.hdr")
    r = cli("relight", faces_dir / "obama-240p.jpg", "-o", tmp_path / "o.jpg", "--env-rotate", 90)
    assert r.returncode == 2 and "--env" in r.stderr

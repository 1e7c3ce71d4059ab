"""Faces at every scale (issue 11): close-up selfies where the face fills the frame, and
faces ~40-48 px wide, both found with 478 landmarks; the face cap is an option and says
when it left faces out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceplay.face.analyzer import FaceAnalyzer
from faceplay.media import read_image
from tests.conftest import SINGLE


@pytest.fixture(scope="module")
def photos(analyzer, faces_dir):
    """(name, RGB, box of the largest face) of every single-person photo."""
    out = []
    for name in sorted(SINGLE):
        rgb = read_image(faces_dir / name)
        faces = analyzer.analyze(rgb)
        assert faces, name
        out.append((name, rgb, faces[0].box))
    return out


def _close_up(rgb: np.ndarray, box) -> tuple[np.ndarray, float]:
    """A crop in which the face box fills >= 80 % of the frame, upscaled to ~900 px wide."""
    x, y, w, h = box
    sw, sh = w / np.sqrt(0.82), h / np.sqrt(0.82)
    cx, cy = x + w / 2, y + h / 2
    H, W = rgb.shape[:2]
    x0, y0 = int(max(0, cx - sw / 2)), int(max(0, cy - sh / 2))
    x1, y1 = int(min(W, cx + sw / 2)), int(min(H, cy + sh / 2))
    crop = rgb[y0:y1, x0:x1]
    fill = min(1.0, (w * h) / (crop.shape[0] * crop.shape[1]))
    s = 900 / crop.shape[1]
    return cv2.resize(crop, (900, round(crop.shape[0] * s)), interpolation=cv2.INTER_CUBIC), fill


def test_close_up_selfies_where_the_face_fills_the_frame(analyzer, photos):
    for name, rgb, box in photos:
        img, fill = _close_up(rgb, box)
        assert fill >= 0.8, (name, fill)
        faces = analyzer.analyze(img)
        assert len(faces) == 1, name
        f = faces[0]
        assert f.landmarks.shape == (478, 3)
        assert f.box[2] >= 0.6 * img.shape[1], (name, f.box)  # the face found is the one filling the frame


@pytest.mark.parametrize("face_px", [40, 48])
def test_faces_40_to_48_px_wide(analyzer, photos, face_px):
    for name, rgb, box in photos:
        s = face_px / box[2]
        small = cv2.resize(rgb, (max(1, round(rgb.shape[1] * s)), max(1, round(rgb.shape[0] * s))), interpolation=cv2.INTER_AREA)
        faces = analyzer.analyze(small)
        assert len(faces) == 1, (name, small.shape)
        assert faces[0].landmarks.shape == (478, 3)
        assert 0.6 * face_px <= faces[0].box[2] <= 1.6 * face_px, (name, faces[0].box)


def test_max_faces_cap_is_an_option_and_reports_what_it_dropped(faces_dir):
    img = faces_dir / "test_obama_and_biden.jpg"
    with FaceAnalyzer(max_faces=1) as fa:
        one = fa.analyze(img)
    assert len(one) == 1 and one.dropped >= 1
    with FaceAnalyzer() as fa:
        every = fa.analyze(img)
    assert every.dropped == 0 and len(every) == 1 + one.dropped
    assert one[0].box == pytest.approx(max(every, key=lambda f: f.score).box, abs=1.0)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "analyze", img, "--max-faces", "1", "--json", "--fields", "none"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert len(out["faces"]) == 1 and out["dropped_faces"] == one.dropped
    assert "--max-faces" in p.stderr  # the warning names the option
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "analyze", img, "--max-faces", "0"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1

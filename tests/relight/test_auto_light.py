"""--preset auto: back-lit and flat portraits (made from real photos) get a ~2:1 broad key without clipping."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.relight.auto import (
    auto_rig,
    clipped_share,
    half_levels,
    keep_catchlights,
    wider_side,
)
from faceplay.relight.lights import preset
from tests.relight.helpers import analyse, cli_json

NAMES = ["obama3.jpg", "biden_biden2.jpg", "rose_leslie_img1.jpg", "kit_harington_john2.jpeg"]


@pytest.fixture(scope="module")
def photos(faces_dir):
    return analyse(faces_dir, NAMES)


def _darken(rgb, k):
    lin = (rgb / 255.0) ** 2.2 * k
    return np.clip(lin ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)


def _inputs(relighter, rgb, faces):
    """A flat portrait (the flat preset at full strength) and a back-lit one (rim light, 2.5x darker)."""
    flat = relighter.relight(rgb, faces, preset("flat"), 1.0).image
    back = _darken(relighter.relight(rgb, faces, preset("rim"), 1.0).image, 0.4)
    return {"flat": flat, "backlit": back}


def _ratio(img, face, side):
    a, b = half_levels(img, face)
    return a / b if side == "left" else b / a


def test_auto_raises_key_to_fill_towards_2_to_1_without_clipping(photos, relighter):
    for name, (rgb, faces) in photos.items():
        for kind, img in _inputs(relighter, rgb, faces).items():
            rig, info = auto_rig(relighter, img, faces)
            out = relighter.relight(img, faces, rig, 1.0).image
            side = info["side"]
            before, after = _ratio(img, faces[0], side), _ratio(out, faces[0], side)
            assert abs(after - 2.0) < abs(before - 2.0), f"{name}/{kind}: {before:.2f} -> {after:.2f}"
            assert 1.6 < after < 2.5, f"{name}/{kind}: key-to-fill {after:.2f}"
            assert clipped_share(out, faces[0]) <= clipped_share(img, faces[0]) + 0.005, f"{name}/{kind} clips"
            if kind == "backlit":  # a dark face is also lifted (as far as its bright rim allows without clipping)
                assert np.mean(half_levels(out, faces[0])) > 1.1 * np.mean(half_levels(img, faces[0]))
            assert info["key_to_fill_after"] == pytest.approx(after, rel=0.02)
            assert "2:1" in info["explanation"] and info["key"]["az"] == (-45 if side == "left" else 45)


def test_key_goes_on_the_wider_side_of_a_turned_face(photos):
    _, faces = photos["kit_harington_john2.jpeg"]
    side, asym = wider_side(faces[0])
    lm = faces[0].landmarks
    assert asym > 0.08
    assert side == ("left" if lm[1, 0] - lm[234, 0] > lm[454, 0] - lm[1, 0] else "right")


def test_catchlights_are_kept(photos, relighter):
    rgb, faces = photos["biden_biden2.jpg"]
    dark = relighter.relight(rgb, faces, preset("split"), 1.0).image
    n = keep_catchlights(rgb, dark, faces)
    assert n > 0
    again = dark.copy()
    assert keep_catchlights(rgb, again, faces) == 0  # already there: nothing left to carry over


def test_cli_auto_explains_its_choice(faces_dir, tmp_path):
    info = cli_json("relight", faces_dir / "biden_biden2.jpg", "-o", tmp_path / "o.jpg", "--preset", "auto")
    a = info["auto"]
    assert a["preset"] == "auto" and a["side"] in ("left", "right") and a["target_key_to_fill"] == 2.0
    assert {"key", "fill", "exposure", "key_to_fill_before", "key_to_fill_after", "explanation", "steps"} <= set(a)
    assert "catchlight_pixels" in a and info["strength"] == 1.0

"""--light-from: the light of a reference portrait copied onto other people (real photos and a real clip)."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.relight.lights import preset
from faceplay.relight.reference import (
    angle_between,
    describe_sh,
    light_from_reference,
    match_light,
)
from tests.relight.helpers import analyse, cli_json, halves, short_clip

REFS = ["obama3.jpg", "rose_leslie_img1.jpg"]
# other people, skin tones and head poses (kit_harington_john2 and test_alex_lacamoire1 are turned)
TARGETS = ["biden_biden2.jpg", "rose_leslie_img1.jpg", "obama_obama.jpg", "kit_harington_john2.jpeg",
           "test_alex_lacamoire1.jpg"]


@pytest.fixture(scope="module")
def photos(faces_dir):
    return analyse(faces_dir, sorted(set(REFS + TARGETS)))


@pytest.fixture(scope="module")
def references(photos, relighter):
    """(ref name, side) -> (reference image relit with the preset at strength 1, its estimated SH)."""
    out = {}
    for ref in REFS:
        rgb, faces = photos[ref]
        for side in ("left", "right"):
            img = relighter.relight(rgb, faces, preset(side), 1.0).image
            out[ref, side] = (img, relighter.estimate(img, faces).sh)
    return out


@pytest.mark.parametrize("side", ["left", "right"])
def test_reference_light_lights_the_same_side_of_another_face(photos, relighter, references, side):
    for ref in REFS:
        img, ref_sh = references[ref, side]
        rig, info = light_from_reference(img, relighter=relighter)
        assert (info["az"] < -30) if side == "left" else (info["az"] > 30), info
        assert info["key_to_fill"] > 2.0
        for name in TARGETS:
            if name == ref:
                continue
            rgb, faces = photos[name]
            fitted, m = match_light(relighter, rgb, faces, rig, ref_sh, 1.0)
            out = relighter.relight(rgb, faces, fitted, 1.0).image
            lo, ro = halves(out, faces[0])
            li, ri = halves(rgb, faces[0])
            if side == "left":
                assert lo > 1.12 * ro and lo / ro > li / ri, f"{ref}->{name}: halves {lo:.0f}/{ro:.0f}"
            else:
                assert ro > 1.12 * lo and ro / lo > ri / li, f"{ref}->{name}: halves {lo:.0f}/{ro:.0f}"
            est = describe_sh(relighter.estimate(out, faces).sh)
            angle = angle_between(est["direction"], describe_sh(ref_sh)["direction"])
            assert angle < 20, f"{ref}->{name}: estimated light {angle:.1f} degrees from the reference's"
            assert m["angle_error_deg"] == pytest.approx(angle, abs=0.5)


def test_reference_without_a_face_is_a_one_line_error(faces_dir, tmp_path, photos):
    from faceplay.media.image import write_image
    from tests.relight.helpers import cli

    rgb, _ = photos["obama3.jpg"]
    ref = tmp_path / "no_face.png"
    write_image(ref, np.ascontiguousarray(rgb[-120:, :200]))
    r = cli("relight", faces_dir / "biden_biden2.jpg", "-o", tmp_path / "o.jpg", "--light-from", ref)
    assert r.returncode != 0 and "no face" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("relight", faces_dir / "biden_biden2.jpg", "-o", tmp_path / "o.jpg", "--light-from", ref, "--preset", "left")
    assert r.returncode == 2 and "only one" in r.stderr


def test_cli_light_from_on_a_video_lights_every_frame_and_writes_passes(videos_dir, tmp_path, references):
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media.image import write_image
    from faceplay.media.video import VideoReader

    ref = tmp_path / "ref_left.png"
    write_image(ref, references["obama3.jpg", "left"][0])
    clip = short_clip(videos_dir / "talking_d0.mp4", tmp_path / "clip.mp4", 12)
    out, passes = tmp_path / "out.mp4", tmp_path / "passes"
    info = cli_json("relight", clip, "-o", out, "--light-from", ref, "--passes", passes)
    assert info["frames"] == 12 and info["light_from"]["az"] < -30
    assert info["light_from"]["match"]["angle_error_deg"] < 20
    for name in ("normals", "depth", "albedo", "shading_before", "shading_after", "matte"):
        assert len(list((passes / name).glob(f"{name}_*.png"))) == 12, name
    with VideoReader(clip) as a, VideoReader(out) as b, FaceAnalyzer() as fa:
        for i, (fa_, fb) in enumerate(zip(a, b)):
            faces = fa.analyze(fa_.rgb)
            assert faces, i
            li, ri = halves(fa_.rgb, faces[0])
            lo, ro = halves(fb.rgb, faces[0])
            assert lo > 1.1 * ro and lo / ro > li / ri, f"frame {i}: {lo:.0f}/{ro:.0f} (input {li:.0f}/{ri:.0f})"

"""Relighting on real photos: direction, round trip, matte, back-light fix, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceplay.errors import ConfigError
from faceplay.relight.lights import PRESETS, parse_light, preset, rig_from_json
from faceplay.relight.masks import face_polygon

SINGLE = ["obama_obama.jpg", "obama_obama2.jpg", "obama3.jpg", "test_obama1.jpg", "obama-240p.jpg",
          "obama_partial_face.jpg", "biden_biden.jpg", "biden_biden2.jpg", "kit_harington_john1.jpeg",
          "kit_harington_john2.jpeg", "test_johnsnow_test1.jpg", "rose_leslie_img1.jpg", "rose_leslie_img2.jpg",
          "alex_lacamoire_img1.jpg", "test_alex_lacamoire1.jpg"]


@pytest.fixture(scope="module")
def photos(faces_dir):
    """name -> (rgb, faces) for every single-person photo (analysed once)."""
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media.image import read_image

    out = {}
    with FaceAnalyzer() as fa:
        for name in SINGLE:
            rgb = read_image(faces_dir / name)
            faces = fa.analyze(rgb)
            assert len(faces) == 1, name
            out[name] = (rgb, faces)
    return out


def face_mask(shape, face) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(m, [face_polygon(face.landmarks).astype(np.int32)], 1)
    return m.astype(bool)


def luma(rgb) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)


def halves(rgb, face) -> tuple[float, float]:
    """Mean luma of the image-left and image-right half of the face (split at the nose tip)."""
    m = face_mask(rgb.shape, face)
    xx = np.arange(rgb.shape[1])[None, :]
    y = luma(rgb)
    cx = face.landmarks[1, 0]
    return y[m & (xx < cx)].mean(), y[m & (xx >= cx)].mean()


def test_left_and_right_presets_light_the_named_side(photos, relighter):
    for name, (rgb, faces) in photos.items():
        l_left, l_right = halves(relighter.relight(rgb, faces, preset("left"), 0.8).image, faces[0])
        r_left, r_right = halves(relighter.relight(rgb, faces, preset("right"), 0.8).image, faces[0])
        assert l_left > 1.12 * l_right, f"{name}: left preset {l_left:.0f} vs {l_right:.0f}"
        assert r_right > 1.12 * r_left, f"{name}: right preset {r_left:.0f} vs {r_right:.0f}"


def test_relighting_with_the_estimated_light_reproduces_the_face(photos, relighter):
    for name, (rgb, faces) in photos.items():
        est = relighter.estimate(rgb, faces)
        assert est.sh is not None and est.sh.shape == (9, 3)
        out = relighter.relight(rgb, faces, est, 1.0).image
        m = face_mask(rgb.shape, faces[0])
        mse = ((out.astype(np.float64) - rgb)[m] ** 2).mean()
        psnr = 10 * np.log10(255 ** 2 / max(mse, 1e-10))
        assert psnr >= 35, f"{name}: PSNR {psnr:.1f} dB"
        if name in ("obama3.jpg", "rose_leslie_img1.jpg", "biden_biden2.jpg"):
            # ... while a real preset does change the face
            other = relighter.relight(rgb, faces, preset("split"), 1.0).image
            assert np.abs(other.astype(int) - rgb)[m].mean() > 5


def _background(result) -> np.ndarray:
    """Full-resolution mask of pixels whose low-res matte neighbourhood is exactly zero."""
    H, W = result.image.shape[:2]
    zero = (result.layers.matte <= 0).astype(np.uint8)
    zero = cv2.erode(zero, np.ones((3, 3), np.uint8))
    return cv2.resize(zero, (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)


@pytest.mark.parametrize("name", ["obama3.jpg", "rose_leslie_img1.jpg"])
def test_pixels_outside_the_matte_stay_unchanged(photos, relighter, name):
    rgb, faces = photos[name]
    for rig in PRESETS.values():
        res = relighter.relight(rgb, faces, rig, 1.0, keep_layers=True)
        bg = _background(res)
        assert bg.mean() > 0.05, "the matte should leave some background"
        changed = np.abs(res.image.astype(int) - rgb).max(-1)[bg]
        if rig.background > 0:  # the preset says otherwise: a tinted background
            assert (changed > 0).mean() > 0.5, rig.name
        else:
            assert changed.max() == 0, f"{name}/{rig.name}: {(changed > 0).sum()} background pixels changed"


def test_backlit_fix_lifts_a_dark_face_and_keeps_the_background(photos, relighter):
    for name in ("obama_obama.jpg", "biden_biden2.jpg", "rose_leslie_img2.jpg"):
        rgb, faces = photos[name]
        # a back-lit look: the whole photo 2.5x darker (linear light)
        lin = (rgb / 255.0) ** 2.2 * 0.4
        dark = np.clip(lin ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)
        res = relighter.relight(dark, faces, preset("backlit-fix"), 1.0, keep_layers=True)
        m = face_mask(rgb.shape, faces[0])
        before, after = luma(dark)[m].mean(), luma(res.image)[m].mean()
        assert after > before * 1.25, f"{name}: face luma {before:.0f} -> {after:.0f}"
        bg = _background(res)
        assert np.array_equal(res.image[bg], dark[bg])


def test_no_face_returns_the_image_unchanged_with_a_warning(photos, relighter, caplog):
    rgb, _ = photos["obama3.jpg"]
    crop = np.ascontiguousarray(rgb[-120:, :200])  # floor and curtains: no face
    from faceplay.face.analyzer import FaceAnalyzer

    with FaceAnalyzer() as fa:
        faces = fa.analyze(crop)
    assert faces == []
    with caplog.at_level("WARNING"):
        res = relighter.relight(crop, faces, preset("studio"), 0.8)
    assert np.array_equal(res.image, crop)
    assert res.warnings and "no face" in res.warnings[0]
    assert any("no face" in r.message for r in caplog.records)


@pytest.mark.parametrize("spec, field", [
    ("type=spot,az=10", "type"),
    ("type=directional,az=400", "az"),
    ("az=10,el=abc", "el"),
    ("color=#12345", "color"),
    ("intensity=-1", "intensity"),
    ("azimuth=10", "azimuth"),
    ("az10", "az10"),
])
def test_invalid_light_spec_names_the_bad_field(spec, field):
    with pytest.raises(ConfigError) as e:
        parse_light(spec)
    assert field in str(e.value)


def test_light_spec_and_json_rig_parse():
    l = parse_light("type=directional,az=-60,el=20,color=#ffd0a0,intensity=1.5")
    assert l.type == "directional" and l.az == -60 and l.el == 20 and l.intensity == 1.5
    assert l.color == pytest.approx((1.0, 208 / 255, 160 / 255))
    assert l.direction()[0] < 0  # from the image's left
    rig = rig_from_json(json.dumps({"name": "mine", "lights": [{"type": "point", "az": 30, "color": "#88aaff"}]}))
    assert rig.name == "mine" and rig.lights[0].type == "point"
    with pytest.raises(ConfigError, match="lights"):
        rig_from_json("{}")


def test_presets_cover_the_issue():
    for name in ("left", "right", "studio", "rembrandt", "butterfly", "split", "rim", "neon", "sunset", "backlit-fix"):
        assert name in PRESETS
    neon_colours = {l.color for l in PRESETS["neon"].lights if l.type != "ambient"}
    assert len(neon_colours) == 2
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("disco")


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "faceplay.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_relights_writes_debug_layers_and_reports_bad_lights(faces_dir, tmp_path):
    src = faces_dir / "obama-240p.jpg"
    out = tmp_path / "out.jpg"
    dbg = tmp_path / "layers"
    r = _cli("relight", str(src), "-o", str(out), "--preset", "rembrandt", "--debug-layers", str(dbg), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["faces"] == 1 and out.is_file()
    names = {p.stem for p in dbg.glob("*.png")}
    assert {"shading_new", "matte", "face_mask", "skin_mask", "mesh_overlay", "normals"} <= names
    from faceplay.media.image import read_image

    ov, orig = read_image(dbg / "mesh_overlay.png"), read_image(src)
    assert ov.shape == orig.shape and (np.abs(ov.astype(int) - orig).max(-1) > 60).mean() > 0.01

    bad = _cli("relight", str(src), "-o", str(out), "--light", "type=directional,el=95")
    assert bad.returncode == 2
    assert "el" in bad.stderr and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_cli_lists_presets_and_makes_a_gallery(faces_dir, tmp_path):
    r = _cli("relight", "--list-presets", "--json")
    assert r.returncode == 0
    assert {p["name"] for p in json.loads(r.stdout)["presets"]} == set(PRESETS) | {"auto"}
    sheet = tmp_path / "sheet.png"
    r = _cli("relight", str(faces_dir / "obama-240p.jpg"), "--gallery", "-o", str(sheet))
    assert r.returncode == 0, r.stderr
    from faceplay.media.image import read_image

    im = read_image(sheet)
    assert im.shape[1] == 4 * 320 and im.shape[0] > 2 * 240  # 12 tiles in rows of 4


def test_custom_point_and_directional_lights_light_their_side(photos, relighter):
    from faceplay.relight.lights import custom_rig

    rgb, faces = photos["biden_biden.jpg"]
    point_right = custom_rig([parse_light("type=point,az=80,el=10,distance=1.2,intensity=2,color=#fff0e0")])
    l, r = halves(relighter.relight(rgb, faces, point_right, 1.0).image, faces[0])
    assert r > 1.12 * l
    dir_left = rig_from_json({"lights": ["type=directional,az=-80,el=10,intensity=1.5", {"type": "ambient", "intensity": 0.2}]})
    l, r = halves(relighter.relight(rgb, faces, dir_left, 1.0).image, faces[0])
    assert l > 1.12 * r


def test_blend_modes_differ_and_add_never_darkens(photos, relighter):
    rgb, faces = photos["kit_harington_john1.jpeg"]
    outs = {m: relighter.relight(rgb, faces, preset("rembrandt"), 1.0, blend=m).image for m in ("ratio", "multiply", "add")}
    m = face_mask(rgb.shape, faces[0])
    assert np.abs(outs["ratio"].astype(int) - outs["multiply"])[m].mean() > 1
    assert (luma(outs["add"])[m] >= luma(rgb)[m] - 1).all()
    assert luma(outs["add"])[m].mean() > luma(rgb)[m].mean() + 3
    with pytest.raises(ConfigError, match="blend"):
        relighter.relight(rgb, faces, preset("left"), 1.0, blend="overlay")


def test_strength_zero_changes_nothing(photos, relighter):
    rgb, faces = photos["obama-240p.jpg"]
    assert np.array_equal(relighter.relight(rgb, faces, preset("neon"), 0.0).image, rgb)

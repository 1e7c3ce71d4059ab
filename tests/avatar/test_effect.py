"""The avatar effect on real photos and videos, user avatars and bad inputs."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from faceplay.avatar import AvatarConfig, AvatarEffect, AvatarError
from faceplay.avatar.model import Avatar
from faceplay.face.types import BLENDSHAPE_NAMES
from faceplay.media.image import read_image
from faceplay.render import Material, MeshData
from faceplay.render.gltf import write_glb


@pytest.fixture(scope="module")
def analyzer():
    from faceplay.face import FaceAnalyzer

    with FaceAnalyzer() as a:
        yield a


@pytest.mark.parametrize("photo,avatar", [("obama_obama.jpg", "toon"), ("biden_biden.jpg", "robot"),
                                          ("rose_leslie_img1.jpg", "bear"), ("kit_harington_john1.jpeg", "creature")])
def test_replace_covers_the_head_and_keeps_the_rest(faces_dir, analyzer, photo, avatar):
    rgb = read_image(faces_dir / photo)
    faces = analyzer.analyze(rgb)
    assert faces
    fx = AvatarEffect(avatar, samples=0)
    out = fx.process_image(rgb, faces)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    x, y, w, h = (int(v) for v in faces[0].box)
    diff = np.abs(out.astype(int) - rgb.astype(int)).sum(-1)
    core = diff[y + h // 5: y + h - h // 5, x + w // 5: x + w - w // 5]
    assert (core > 40).mean() > 0.8, "the face region must be replaced"
    # far from the head (more than 1.5 face sizes away) nothing changed
    far = np.ones(diff.shape, bool)
    m = int(1.5 * max(w, h))
    far[max(0, y - m): y + h + m, max(0, x - m): x + w + m] = False
    assert far.any() and diff[far].max() == 0
    fx.close()


def test_several_faces_get_their_own_avatar(faces_dir, analyzer):
    rgb = read_image(faces_dir / "test_obama_and_biden.jpg")
    faces = analyzer.analyze(rgb)
    assert len(faces) >= 2
    fx = AvatarEffect(["robot", "bear"], samples=0)
    out = fx.process_image(rgb, faces)
    assert sorted(a.name for a in fx.avatars)[:2] == ["bear", "robot"]
    for f in faces[:2]:
        x, y, w, h = (int(v) for v in f.box)
        assert np.abs(out[y:y + h, x:x + w].astype(int) - rgb[y:y + h, x:x + w].astype(int)).mean() > 25


def test_attributes_configure_the_toon_and_overrides_win(faces_dir, analyzer):
    rgb = read_image(faces_dir / "rose_leslie_img1.jpg")
    face = analyzer.analyze(rgb, fields=("age", "gender", "skin_tone", "face_shape"))[0]
    from faceplay.avatar.configure import config_from_face

    opts = Avatar("toon").options
    auto = config_from_face(face, opts)
    assert face.gender == "female" and auto.hair == "long" and auto.skin and auto.head_shape == face.face_shape
    user = config_from_face(face, opts, AvatarConfig(hair="short", skin="#8d5524", beard="yes"))
    assert (user.hair, user.skin, user.beard) == ("short", "#8d5524", "yes")
    # the robot has no hair/skin options: nothing is imposed on it
    assert config_from_face(face, Avatar("robot").options).to_dict() == {}
    # the chosen options change the rendered avatar
    fx_a = AvatarEffect("toon", samples=0)
    fx_b = AvatarEffect("toon", samples=0, config=AvatarConfig(hair="none", skin="#3b2219"))
    a = fx_a.process_image(rgb, [face])
    b = fx_b.process_image(rgb, [face])
    x, y, w, h = (int(v) for v in face.box)
    assert np.abs(a[y:y + h, x:x + w].astype(int) - b[y:y + h, x:x + w].astype(int)).mean() > 20


def test_modes(faces_dir, analyzer):
    rgb = read_image(faces_dir / "obama_obama.jpg")
    faces = analyzer.analyze(rgb)
    h, w = rgb.shape[:2]
    sbs = AvatarEffect("toon", mode="side-by-side", samples=0).process_image(rgb, faces)
    assert sbs.shape == (h, 2 * w, 3) and np.array_equal(sbs[:, :w], rgb)
    rgba = AvatarEffect("toon", mode="avatar-only", background=None, samples=0).process_image(rgb, faces)
    assert rgba.shape == (h, w, 4)
    a = rgba[..., 3]
    x, y, fw, fh = (int(v) for v in faces[0].box)
    assert a[y + fh // 2, x + fw // 2] == 255 and a[0, 0] == 0 and (a == 0).mean() > 0.5
    green = AvatarEffect("toon", mode="avatar-only", samples=0).process_image(rgb, faces)
    assert green.shape == (h, w, 3) and green[0, 0].tolist() == [0, 177, 64]


def test_photo_without_face_is_returned_unchanged(faces_dir, caplog):
    rgb = read_image(faces_dir / "obama_obama.jpg")
    body = np.ascontiguousarray(rgb[-300:, :])  # the suit and arms: a real photo region without a face
    fx = AvatarEffect("toon")
    with caplog.at_level(logging.WARNING):
        out = fx.process_image(body)
    assert np.array_equal(out, body)
    assert any("no face" in r.getMessage() for r in caplog.records)
    fx.close()


def test_unknown_avatar_lists_the_known_ones():
    with pytest.raises(AvatarError) as e:
        AvatarEffect("unicorn")
    for n in ("toon", "robot", "creature", "bear"):
        assert n in str(e.value)


def _ball(path, names, move=True):
    th = np.linspace(0, np.pi, 20)
    ph = np.linspace(0, 2 * np.pi, 30)
    T, P = np.meshgrid(th, ph, indexing="ij")
    pos = np.stack([9 * np.sin(T) * np.sin(P), 11 * np.cos(T), 9 * np.sin(T) * np.cos(P)], -1).reshape(-1, 3)
    idx = []
    for i in range(19):
        for j in range(29):
            a = i * 30 + j
            idx += [a, a + 30, a + 1, a + 1, a + 30, a + 31]
    d = np.zeros((len(names), len(pos), 3), np.float32)
    for k, n in enumerate(names):
        if move:  # every target pulls the lower half down (a crude jaw)
            d[k, pos[:, 1] < 0, 1] = -6.0
    mesh = MeshData(pos, np.array(idx), morph_positions=d if names else None, morph_names=list(names), name="ball")
    write_glb(path, [(mesh, Material(name="skin", base_color=(0.9, 0.5, 0.2, 1)))], list(names))
    return path


def test_user_glb_with_arkit_targets_is_loaded_and_driven(tmp_path, renderer):
    path = _ball(tmp_path / "mine.glb", BLENDSHAPE_NAMES)
    av = Avatar(str(path), renderer)
    assert set(av.targets) == set(BLENDSHAPE_NAMES)
    from faceplay.render import Camera, Lighting

    cam = Camera.orbit(128, 128, distance=90)
    av.set_weights({"jawOpen": 0.0})
    a0 = renderer.render(av.draw_items(np.eye(4)), cam, Lighting.studio()).alpha.sum()
    av.set_weights({"jawOpen": 1.0})
    a1 = renderer.render(av.draw_items(np.eye(4)), cam, Lighting.studio()).alpha.sum()
    assert a1 > 1.1 * a0


def test_user_glb_with_a_mapping_file(tmp_path, renderer):
    import json

    from faceplay.avatar.model import load_mapping

    path = _ball(tmp_path / "rpm.glb", ["MouthOpen", "BlinkL", "BlinkR"])
    with pytest.raises(AvatarError, match="none of the morph targets"):
        Avatar(str(path))
    mp = tmp_path / "map.json"
    mp.write_text(json.dumps({"jawOpen": "MouthOpen", "eyeBlinkLeft": "BlinkL", "eyeBlinkRight": "BlinkR"}))
    av = Avatar(str(path), renderer, mapping=load_mapping(mp))
    av.set_weights({"jawOpen": 1.0})
    assert av.weights[av.names.index("MouthOpen")] == 1.0


def test_glb_without_morph_targets_names_what_is_missing(tmp_path):
    path = _ball(tmp_path / "static.glb", [])
    with pytest.raises(AvatarError) as e:
        AvatarEffect(str(path))
    msg = str(e.value)
    assert "no morph targets" in msg and "jawOpen" in msg


def test_glb_with_some_targets_lists_the_missing_required_ones(tmp_path):
    path = _ball(tmp_path / "partial.glb", ["jawOpen", "mouthSmileLeft"])
    with pytest.raises(AvatarError) as e:
        Avatar(str(path))
    assert "eyeBlinkLeft" in str(e.value) and "eyeBlinkRight" in str(e.value)


def test_streaming_api_returns_one_frame_per_input(videos_dir):
    from faceplay.media.video import VideoReader

    fx = AvatarEffect("robot", samples=0)
    outs = []
    with VideoReader(videos_dir / "talking_d0.mp4") as r, fx.stream() as live:
        for i, fr in enumerate(r):
            if i >= 12:
                break
            out = live.push(fr.rgb, fr.timestamp)
            outs.append((fr.rgb, out, len(live.last_faces)))
    assert len(outs) == 12
    for rgb, out, n in outs:
        assert out.shape == rgb.shape
    assert sum(n for *_, n in outs) >= 10  # the talking head is tracked
    changed = [np.abs(o.astype(int) - r.astype(int)).mean() for r, o, n in outs if n]
    assert min(changed) > 10
    fx.close()


@pytest.mark.slow
def test_hamilton_clip_keeps_frames_duration_and_audio(hamilton, tmp_path):
    from faceplay.media.video import probe

    out = tmp_path / "ham.mp4"
    fx = AvatarEffect("toon", samples=0)
    res = fx.process_video(hamilton, out)
    fx.close()
    src, dst = probe(hamilton), probe(out)
    assert dst["frames"] == src["frames"] == res["frames"] == 275
    assert dst["has_audio"]
    assert abs(dst["duration"] - src["duration"]) < 0.1
    assert res["frames_with_faces"] > 50


def test_vrm_file_is_driven_through_its_expression_presets(tmp_path, renderer):
    import json
    import struct

    glb = _ball(tmp_path / "tmp.glb", ["Fcl_MTH_A", "Fcl_EYE_Close_L", "Fcl_EYE_Close_R"])
    data = glb.read_bytes()
    n = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20:20 + n])
    binchunk = data[20 + n:]
    gltf["extensionsUsed"] = ["VRM"]
    gltf["extensions"] = {"VRM": {"blendShapeMaster": {"blendShapeGroups": [
        {"name": "A", "presetName": "a", "binds": [{"mesh": 0, "index": 0, "weight": 100}]},
        {"name": "Blink_L", "presetName": "blink_l", "binds": [{"mesh": 0, "index": 1, "weight": 100}]},
        {"name": "Blink_R", "presetName": "blink_r", "binds": [{"mesh": 0, "index": 2, "weight": 100}]},
    ]}}}
    js = json.dumps(gltf).encode()
    js += b" " * (-len(js) % 4)
    vrm = tmp_path / "avatar.vrm"
    vrm.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(js) + len(binchunk)) + struct.pack("<II", len(js), 0x4E4F534A)
                    + js + binchunk)
    av = Avatar(str(vrm), renderer)
    assert av.targets["jawOpen"] == [("Fcl_MTH_A", 1.0)] and "eyeBlinkLeft" in av.targets
    av.set_weights({"jawOpen": 0.8, "eyeBlinkRight": 1.0})
    assert av.weights[av.names.index("Fcl_MTH_A")] == pytest.approx(0.8)
    assert av.weights[av.names.index("Fcl_EYE_Close_R")] == pytest.approx(1.0)
    assert av.weights[av.names.index("Fcl_EYE_Close_L")] == 0.0

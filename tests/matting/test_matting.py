"""Person segmentation (selfie / meet) and recurrent video matting (RVM) on real photos and video."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from faceplay.errors import ConfigError, InputError
from faceplay.matting import PersonSegmenter, VideoMatting
from faceplay.media.frame import Frame
from faceplay.media.image import read_image
from faceplay.media.video import VideoReader

#: portraits whose four corners are background
PORTRAITS = ["obama_obama.jpg", "rose_leslie_img1.jpg", "test_alex_lacamoire1.jpg"]


def corners(m: np.ndarray, k: int = 8) -> list[float]:
    return [float(m[:k, :k].mean()), float(m[:k, -k:].mean()), float(m[-k:, :k].mean()), float(m[-k:, -k:].mean())]


def face_centre_value(m: np.ndarray, face) -> float:
    cx, cy = face.center
    return float(m[int(cy) - 2 : int(cy) + 3, int(cx) - 2 : int(cx) + 3].mean())


@pytest.fixture(scope="module")
def segmenters():
    return {name: PersonSegmenter(name) for name in ("selfie", "meet")}


@pytest.mark.parametrize("model", ["selfie", "meet"])
@pytest.mark.parametrize("name", PORTRAITS)
def test_matte_covers_the_face_and_not_the_corners(faces_dir, analyzer, segmenters, model, name):
    rgb = read_image(faces_dir / name)
    face = analyzer.analyze(rgb)[0]
    m = segmenters[model].matte(rgb)
    assert m.shape == rgb.shape[:2] and m.dtype == np.float32
    assert 0.0 <= m.min() and m.max() <= 1.0
    assert face_centre_value(m, face) > 0.9
    assert max(corners(m)) < 0.1
    # the person is a sizeable part of a portrait, not all of it
    assert 0.15 < m.mean() < 0.85


def test_selfie_and_meet_agree_on_who_is_foreground(faces_dir, segmenters):
    rgb = read_image(faces_dir / "obama_obama.jpg")
    a, b = segmenters["selfie"].matte(rgb) > 0.5, segmenters["meet"].matte(rgb) > 0.5
    iou = (a & b).sum() / (a | b).sum()
    assert iou > 0.85


def test_matte_is_cached_on_the_frame(faces_dir, segmenters):
    frame = Frame(read_image(faces_dir / "rose_leslie_img1.jpg"))
    m1 = segmenters["selfie"].matte(frame)
    assert segmenters["selfie"].matte(frame) is m1
    assert not m1.flags.writeable  # shared by every consumer of the frame


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ConfigError, match="selfie"):
        PersonSegmenter("deeplab")
    with pytest.raises(InputError, match="RGB"):
        PersonSegmenter().matte(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(ConfigError):
        VideoMatting(long_side=10)


def test_rgba_and_grey_images_are_accepted(faces_dir, segmenters):
    rgb = read_image(faces_dir / "obama_obama.jpg")
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    m_rgb, m_rgba = segmenters["selfie"].matte(rgb), segmenters["selfie"].matte(rgba)
    assert np.abs(m_rgb - m_rgba).max() < 1e-6
    grey = segmenters["selfie"].matte(rgb.mean(axis=2).astype(np.uint8))
    assert ((grey > 0.5) == (m_rgb > 0.5)).mean() > 0.9


@pytest.fixture(scope="module")
def talking_frames(videos_dir):
    with VideoReader(videos_dir / "talking_d3.mp4") as video:
        return [f.rgb for f in itertools.islice(video, 0, 16)]


def test_video_matting_follows_the_person(talking_frames, analyzer):
    vm = VideoMatting()
    mattes = [vm.matte(rgb) for rgb in talking_frames]
    assert vm.frames_seen == len(talking_frames)
    last, rgb = mattes[-1], talking_frames[-1]
    assert last.shape == rgb.shape[:2]
    face = analyzer.analyze(rgb)[0]
    assert face_centre_value(last, face) > 0.9
    assert max(corners(last)[:2]) < 0.1  # top corners are background
    # temporally stable: consecutive mattes of a talking head barely change
    steps = [float(np.abs(a - b).mean()) for a, b in zip(mattes[1:], mattes[2:])]
    assert max(steps) < 0.03


def test_video_matting_state_and_reset(talking_frames):
    vm = VideoMatting()
    first = vm.process(talking_frames[0])
    for rgb in talking_frames[1:8]:
        vm.process(rgb)
    with_memory = vm.matte(talking_frames[0])
    vm.reset()
    assert vm.frames_seen == 0
    fresh = vm.matte(talking_frames[0])
    # without state the output is reproducible; with 8 frames of memory it is not identical
    assert np.abs(fresh - first.alpha).max() < 1e-5
    assert np.abs(with_memory - fresh).max() > 1e-3
    assert first.foreground.shape == talking_frames[0].shape and 0.0 <= first.foreground.min() <= first.foreground.max() <= 1.0
    # a new frame size starts a new video
    vm.matte(talking_frames[1][::2, ::2].copy())
    assert vm.frames_seen == 1

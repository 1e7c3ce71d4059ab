"""Driving: neutral calibration, exaggeration gains, smoothing — on faces found in real photos/videos."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.avatar.driver import GROUPS, DriverSettings, FaceDriver, parse_gains
from faceplay.errors import ConfigError
from faceplay.face.types import BLENDSHAPE_NAMES

IDX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}


@pytest.fixture(scope="module")
def talking_faces(videos_dir):
    """Faces of 60 consecutive frames of a real talking-head video (grimaces included)."""
    from faceplay.face.track import FaceTracker
    from faceplay.media.video import VideoReader

    out = []
    with VideoReader(videos_dir / "talking_d6.mp4") as r, FaceTracker(smoothing=False) as tr:
        for i, fr in enumerate(r):
            if i >= 120:
                break
            fs = tr.update(fr.rgb, fr.timestamp)
            if fs and i % 2 == 0:
                out.append(fs[0])
    assert len(out) >= 50
    return out


def test_calibrated_resting_face_gives_a_resting_avatar(talking_faces):
    # the least expressive frame of the clip stands for the person's resting face
    rest = min(talking_faces, key=lambda f: sum(v for k, v in f.blendshapes.items() if not k.startswith("eyeLook")))
    d = FaceDriver(DriverSettings(smoothing=0.0))
    raw = d.raw(rest)
    d.calibrate_from(rest)
    w = d.weights(rest, temporal=False)
    mask = np.array([not n.startswith("eyeLook") for n in BLENDSHAPE_NAMES])
    assert raw[mask].max() > 0.1  # MediaPipe reports some expression even at rest...
    assert w[mask].max() < 0.02  # ...which calibration removes
    # an expressive frame still drives the avatar after calibration
    busy = max(talking_faces, key=lambda f: f.blendshapes["jawOpen"])
    assert d.weights(busy, temporal=False)[IDX["jawOpen"]] > 0.3


def test_learnt_neutral_follows_the_person(talking_faces):
    d = FaceDriver(DriverSettings(smoothing=0.0))
    before = d.neutral.copy()
    for f in talking_faces:
        d.weights(f)
    # it only ever tracks the lowest values seen (plus a slow drift), never an expression peak
    raw = np.stack([d.raw(f) for f in talking_faces])
    cal = np.array([not n.startswith("eyeLook") and n not in ("tongueOut", "jawLeft", "jawRight") for n in BLENDSHAPE_NAMES])
    assert np.all(d.neutral[cal] <= np.minimum(raw[:, cal].min(0), 0.5) + 0.004 * len(talking_faces) + 1e-6)
    assert not np.array_equal(before, d.neutral)


def test_group_gain_exaggerates_only_that_group(talking_faces):
    f = min(talking_faces, key=lambda f: abs(f.blendshapes["jawOpen"] - 0.3))
    base = FaceDriver(DriverSettings(smoothing=0.0, calibrate=False)).weights(f, temporal=False)
    more = FaceDriver(DriverSettings(smoothing=0.0, calibrate=False, gains=parse_gains(["jaw=1.5", "mouth=1.5"]))).weights(f, temporal=False)
    for n in GROUPS["jaw"] + GROUPS["mouth"]:
        i = IDX[n]
        assert more[i] == pytest.approx(min(1.0, base[i] * 1.5), abs=1e-5)
    for n in GROUPS["eyes"] + GROUPS["brows"]:
        assert more[IDX[n]] == pytest.approx(base[IDX[n]], abs=1e-6)
    assert 0 < base[IDX["jawOpen"]] < more[IDX["jawOpen"]]


def test_smoothing_damps_frame_to_frame_jitter(talking_faces):
    raw = np.stack([FaceDriver(DriverSettings(smoothing=0.0)).raw(f) for f in talking_faces])
    smooth_d = FaceDriver(DriverSettings(smoothing=0.6, calibrate=False))
    raw_d = FaceDriver(DriverSettings(smoothing=0.0, calibrate=False))
    s = np.stack([smooth_d.weights(f) for f in talking_faces])
    r = np.stack([raw_d.weights(f) for f in talking_faces])
    assert np.abs(np.diff(s, axis=0)).mean() < 0.6 * np.abs(np.diff(r, axis=0)).mean()
    assert raw.shape == r.shape


def test_pose_smoothing_stays_a_rigid_transform(talking_faces):
    d = FaceDriver(DriverSettings(pose_smoothing=0.5))
    for f in talking_faces:
        m = d.pose(f)
    r = m[:3, :3].astype(np.float64)
    s = np.linalg.svd(r, compute_uv=False)
    assert s.max() / s.min() < 1.001 and np.linalg.det(r) > 0


def test_bad_gains():
    with pytest.raises(ConfigError, match="mouth"):
        parse_gains(["ears=2"])
    with pytest.raises(ConfigError, match="GROUP=FACTOR"):
        parse_gains(["mouth"])
    with pytest.raises(ConfigError, match="range"):
        parse_gains(["mouth=9"])

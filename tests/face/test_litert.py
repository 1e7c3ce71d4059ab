"""The LiteRT tracker gives the same faces as MediaPipe's FaceLandmarker graph, on real videos."""

import numpy as np
import pytest

from faceplay.face.litert_landmarker import available
from faceplay.face.track import FaceTracker, resolve_backend
from faceplay.face.types import BLENDSHAPE_NAMES
from faceplay.media.video import VideoReader

pytestmark = pytest.mark.skipif(not available(), reason="ai-edge-litert is not installed (the fast extra)")


def _frames(path, n):
    with VideoReader(path) as r:
        out = []
        for f in r:
            out.append(f)
            if len(out) == n:
                return out
    return out


def _run(backend, frames, max_faces=1):
    with FaceTracker(max_faces=max_faces, smoothing=False, backend=backend) as tr:
        return [tr.update(f.rgb, f.timestamp) for f in frames]


@pytest.mark.parametrize("clip", ["talking_d13.mp4", "talking_d19.mp4"])
def test_litert_matches_mediapipe_on_talking_heads(videos_dir, clip):
    from faceplay.face.landmarker import Landmarker
    from faceplay.face.types import RunningMode

    frames = _frames(videos_dir / clip, 90)
    mp, lt = _run("mediapipe", frames), _run("litert", frames)
    # MediaPipe's VIDEO graph smooths its own landmarks (about a frame of lag on a fast mouth); its IMAGE
    # mode on the same frames is a second, per-frame reference
    with Landmarker(RunningMode.IMAGE, max_faces=1) as lm:
        still = [lm.detect(f.rgb) for f in frames]
    assert all(len(a) == 1 for a in mp) and all(len(b) == 1 for b in lt), "one face in every frame, both trackers"
    lm_err, ang_err, t_err = [], [], []
    for (a,), (b,) in zip(mp, lt):
        iod = np.linalg.norm(a.landmarks[33, :2] - a.landmarks[263, :2])
        lm_err.append(np.linalg.norm(a.landmarks[:, :2] - b.landmarks[:, :2], axis=1).mean() / iod)
        ang_err.append(np.abs([a.pose.yaw - b.pose.yaw, a.pose.pitch - b.pose.pitch, a.pose.roll - b.pose.roll]))
        t_err.append(np.linalg.norm(a.pose.matrix[:3, 3] - b.pose.matrix[:3, 3]))
    # landmarks within 2 % of the eye distance on average
    assert np.mean(lm_err) < 0.02 and np.percentile(lm_err, 95) < 0.04, (np.mean(lm_err), np.percentile(lm_err, 95))
    # blendshapes drive the avatar: close to MediaPipe's on every shape, the mouth following frame by frame
    shapes = {k: np.array([[f[0].blendshapes[n] for n in BLENDSHAPE_NAMES] for f in run])
              for k, run in (("video", mp), ("litert", lt), ("image", still))}
    diff = np.abs(shapes["video"] - shapes["litert"]).mean(axis=0)
    assert diff.mean() < 0.015 and diff.max() < 0.06, (diff.mean(), BLENDSHAPE_NAMES[diff.argmax()], diff.max())
    jaw = BLENDSHAPE_NAMES.index("jawOpen")
    corr = {k: np.corrcoef(shapes["image"][:, jaw], shapes[k][:, jaw])[0, 1] for k in ("video", "litert")}
    assert np.corrcoef(shapes["video"][:, jaw], shapes["litert"][:, jaw])[0, 1] > 0.85
    assert corr["litert"] >= corr["video"] - 0.02, corr
    # ... and no farther from the per-frame reference than MediaPipe's own VIDEO graph is
    assert np.abs(shapes["image"] - shapes["litert"]).mean() <= 1.1 * np.abs(shapes["image"] - shapes["video"]).mean()
    # the head pose, in MediaPipe's camera: angles within 1.5 degrees, position within 1 cm
    assert np.mean(ang_err, axis=0).max() < 1.5, np.mean(ang_err, axis=0)
    assert np.mean(t_err) < 1.0, np.mean(t_err)


def test_litert_tracks_every_face_of_the_hamilton_clip(hamilton):
    frames = _frames(hamilton, 400)
    mp, lt = _run("mediapipe", frames, 5), _run("litert", frames, 5)
    seen_mp = sum(bool(f) for f in mp)
    seen_lt = sum(bool(f) for f in lt)
    # the detector (YuNet) also finds the small faces MediaPipe's short-range detector misses
    assert seen_lt >= seen_mp * 0.9, (seen_lt, seen_mp)
    both = [(a, b) for a, b in zip(mp, lt) if a and b]
    assert len(both) > 100
    # where both see the face, it is the same face
    centre = lambda f: np.array([f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2])  # noqa: E731
    d = [min(np.linalg.norm(centre(a[0]) - centre(g)) / a[0].box[2] for g in b) for a, b in both]
    assert np.median(d) < 0.1


def test_backend_choice(monkeypatch):
    assert resolve_backend("auto") == "litert"
    monkeypatch.setenv("FACEPLAY_TRACKER", "mediapipe")
    assert resolve_backend("auto") == "mediapipe"
    monkeypatch.setenv("FACEPLAY_TRACKER", "tflite")
    from faceplay.errors import ConfigError

    with pytest.raises(ConfigError, match="litert, mediapipe"):
        resolve_backend("auto")

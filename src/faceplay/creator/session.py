"""The tracking loop of ``faceplay track``: frames -> FaceTracker -> Sample -> every output, once per frame.

Only the tracker runs (MediaPipe VIDEO mode with faceplay's One-Euro
smoothing); no attribute model, no renderer. Outputs are objects with
``write(sample)`` / ``close()`` / ``abort()`` (CSV and glTF takes) or
``send(sample)`` / ``close()`` (VMC senders).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from faceplay.creator.profile import Profile, Shaper, calibrate
from faceplay.creator.sample import Sample, SampleMaker, raw_weights
from faceplay.creator.source import Pacer

log = logging.getLogger(__name__)


@dataclass
class Calibration:
    """Collects a neutral face during the first ``seconds`` and builds a :class:`Profile`."""

    seconds: float = 3.0
    gains: dict[str, float] = field(default_factory=dict)
    curve: float = 1.0
    smoothing: float = 0.3
    weights: list[np.ndarray] = field(default_factory=list)
    rotations: list[np.ndarray] = field(default_factory=list)
    profile: Profile | None = None

    def add(self, faces, pick: Callable) -> None:
        """Record the followed face of one frame."""
        f = pick(faces)
        if f is not None:
            u, _, vt = np.linalg.svd(np.asarray(f.pose.matrix, np.float64)[:3, :3])
            self.weights.append(raw_weights(f))
            self.rotations.append(u @ vt)

    def finish(self, source_name: str) -> Profile:
        """The profile of the frames seen."""
        self.profile = calibrate(self.weights, self.rotations, gains=self.gains, curve=self.curve,
                                 smoothing=self.smoothing,
                                 info={"source": source_name, "seconds": self.seconds, "frames": len(self.weights)})
        return self.profile


@dataclass
class TrackStats:
    """What a run did."""

    frames: int = 0
    tracked: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_tracking(source, *, profile: Profile | None = None, writers=(), senders=(), on_sample=None,
                 calibration: Calibration | None = None, keep_going: bool = True, max_frames: int | None = None,
                 max_seconds: float | None = None, start: float = 0.0, realtime: bool = False, progress: bool = False) -> TrackStats:
    """Track ``source`` frame by frame and feed every output; returns :class:`TrackStats`.

    Frames before ``start`` seconds are decoded but not tracked; ``max_seconds``
    counts from ``start``. With ``calibration`` the first ``calibration.seconds`` build a profile,
    which then shapes the following frames; ``keep_going=False`` stops there.
    Ctrl-C ends the run cleanly (files are still written). On any other error
    the writers are aborted, so no half-written take is left behind.
    """
    from faceplay.face.track import FaceTracker

    maker = SampleMaker(profile)
    pacer = Pacer() if realtime and not source.realtime else None
    stats = TrackStats()
    left = max(0, source.frame_count - int(start * source.fps)) if source.frame_count else None
    total = min(x for x in (max_frames, left, int(max_seconds * source.fps) + 1 if max_seconds else None) if x) \
        if (max_frames or left or max_seconds) else None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc="track", leave=False)
    t_start = time.perf_counter()
    t0: float | None = None
    ok = False
    try:
        with FaceTracker(max_faces=1) as tracker:
            for frame in source:
                t0 = frame.timestamp if t0 is None else t0
                t = frame.timestamp - t0
                if t < start - 1e-6:
                    continue
                if max_frames is not None and stats.frames >= max_frames:
                    break
                if max_seconds is not None and t - start > max_seconds:
                    break
                faces = tracker.update(frame.rgb, frame.timestamp)
                if calibration is not None and calibration.profile is None:
                    if t - start <= calibration.seconds:
                        calibration.add(faces, maker.pick)
                    else:
                        maker.shaper = Shaper(calibration.finish(source.name))
                        if not keep_going:
                            break
                s: Sample = maker(frame.index, t, faces)
                if pacer is not None:
                    pacer.wait(t)
                for w in writers:
                    w.write(s)
                for snd in senders:
                    snd.send(s)
                if on_sample is not None:
                    on_sample(s)
                stats.frames += 1
                stats.tracked += int(s.tracked)
                if bar is not None:
                    bar.update(1)
        ok = True
    except KeyboardInterrupt:
        stats.interrupted = True
        ok = True
        log.warning("interrupted after %d frames; finishing the outputs", stats.frames)
    finally:
        stats.seconds = time.perf_counter() - t_start
        if bar is not None:
            bar.close()
        for snd in senders:
            snd.close()
        for w in writers:
            if ok and stats.frames:
                w.close()
            else:
                w.abort()
    if calibration is not None and calibration.profile is None:
        calibration.finish(source.name)  # the input ended inside the calibration window
    return stats

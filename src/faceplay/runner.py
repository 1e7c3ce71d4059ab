"""The one frame loop: decode → track → effect → encode, for every effect and running mode.

>>> from faceplay.runner import Runner
>>> from faceplay.face.types import RunningMode
>>> with Runner(effect, RunningMode.IMAGE) as run:           # doctest: +SKIP
...     out = run.image("photo.jpg")
>>> with Runner(effect, RunningMode.VIDEO) as run:           # doctest: +SKIP
...     summary = run.video("in.mp4", "out.mp4", progress=True)
>>> with Runner(effect, RunningMode.LIVE) as run:            # doctest: +SKIP
...     for rgb, t in camera: show(run.push(rgb, t))
>>> with Runner(effect, RunningMode.LIVE) as run:            # doctest: +SKIP
...     for result, out in run.live(camera_frames): show(out)

The runner owns face analysis (photo detection or tracking), the fields the
effect declares (computed once per face, or once per track in a stream),
decoding, encoding with the input's audio, progress, cancellation and timing.
In VIDEO mode (and in LIVE mode through :meth:`Runner.live`) decoding and
tracking run one thread ahead of the effect and the encoder, so the two stages
overlap on two cores; :meth:`Runner.push` is the one-frame-at-a-time form
for callers that own their loop (a web socket). A call that does not match
the runner's mode is refused with a :class:`~faceplay.errors.ConfigError`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from faceplay.effects.base import Effect, EffectState
from faceplay.errors import ConfigError, ModelError
from faceplay.face.types import Face, FrameResult, RunningMode
from faceplay.media.frame import Frame
from faceplay.prefetch import ahead

log = logging.getLogger(__name__)


class StageClock:
    """Milliseconds per stage, summed over frames; safe to add to from two threads."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self.frames = 0
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.ms[stage] = self.ms.get(stage, 0.0) + seconds * 1000.0

    def per_frame(self) -> dict[str, float]:
        """Mean milliseconds per frame of each stage."""
        n = max(self.frames, 1)
        return {k: round(v / n, 2) for k, v in self.ms.items()}


def percentiles(ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max of per-frame milliseconds (zeros when empty)."""
    if not len(ms):
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    a = np.asarray(ms, np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p90": round(float(np.percentile(a, 90)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2)}


@dataclass
class VideoSummary:
    """What a VIDEO run did."""

    output: str | None
    frames: int
    frames_with_faces: int
    seconds: float
    fps: float  #: frames processed per second of wall time
    ms_per_stage: dict[str, float] = field(default_factory=dict)  #: mean ms per frame: decode, track, attributes, effect, encode
    frame_ms: dict[str, float] = field(default_factory=dict)  #: p50 / p90 / p99 / max of each frame's track + effect + encode ms
    stopped: bool = False  #: ``should_stop`` ended the run early (the output holds the frames done so far)

    def to_dict(self) -> dict:
        return asdict(self)


class Runner:
    """Drive one :class:`~faceplay.effects.base.Effect` in one running mode.

    Args:
        effect: the effect to apply.
        mode: IMAGE (photos: :meth:`image`), VIDEO (files: :meth:`video`) or
            LIVE (frames pushed as they arrive: :meth:`push`).
        analyzer: a :class:`~faceplay.face.analyzer.FaceAnalyzer` to share
            (created on first use and closed by :meth:`close` otherwise).
        max_faces: most faces per frame (default: the effect's ``max_faces``).
        smoothing: One-Euro smoothing of tracked faces (VIDEO / LIVE).
    """

    def __init__(self, effect: Effect, mode: RunningMode | str = RunningMode.IMAGE, *, analyzer=None,
                 max_faces: int | None = None, smoothing: bool = True) -> None:
        self.effect = effect
        self.mode = effect.check_mode(mode)
        self.max_faces = max_faces or getattr(effect, "max_faces", 5)
        self.smoothing = smoothing
        self._analyzer = analyzer
        self._own_analyzer = analyzer is None
        self._tracker = None
        self._seen: set = set()
        self._warned = False
        self._t = 0.0
        self.clock = StageClock()
        self.state: EffectState = effect.new_state(self.mode)

    # -- shared pieces -------------------------------------------------------------
    @property
    def analyzer(self):
        """The face analyser (created on first use)."""
        if self._analyzer is None:
            from faceplay.face.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer(max_faces=self.max_faces)
        return self._analyzer

    def _require(self, mode: RunningMode, call: str) -> None:
        if self.mode is not mode:
            raise ConfigError(f"{call} needs a runner in {mode.value} mode, this one runs in {self.mode.value} mode; "
                              f"create it with Runner(effect, RunningMode.{mode.name})")

    def _complete(self, frame: Frame, faces: Sequence[Face]) -> None:
        """Compute the effect's fields: for every face (IMAGE, or per-frame effects), else once per new track."""
        fields = self.effect.fields
        if not fields or not faces:
            return
        once = getattr(self.effect, "fields_per_track", True) and self.mode is not RunningMode.IMAGE
        todo = [f for f in faces if f.track_id not in self._seen] if once else list(faces)
        if once:
            self._seen.update(f.track_id for f in faces)
        if not todo:
            return
        t0 = time.perf_counter()
        try:
            self.analyzer.complete(frame, todo, fields)
        except ModelError as exc:  # the effect keeps its defaults rather than failing the whole run
            if not self._warned:
                log.warning("face fields %s unavailable (%s); the %s effect uses its defaults",
                            ", ".join(fields), exc, self.effect.name)
                self._warned = True
        self.clock.add("attributes", time.perf_counter() - t0)

    def analyse(self, frame: Frame, *, prepare: bool = True) -> FrameResult:
        """Faces of one frame: detected (IMAGE) or tracked (VIDEO / LIVE), with the effect's fields.

        ``prepare`` also runs the effect's GL-free per-frame work (:meth:`Effect.prepare`).
        """
        t0 = time.perf_counter()
        if self.mode is RunningMode.IMAGE:
            faces = list(self.analyzer.analyze(frame))[: self.max_faces]
        else:
            if self._tracker is None:
                self._tracker = self.analyzer.tracker(smoothing=self.smoothing)
            faces = self._tracker.update(frame.rgb, frame.timestamp)[: self.max_faces]
        self.clock.add("track", time.perf_counter() - t0)
        self._complete(frame, faces)
        if prepare:
            t0 = time.perf_counter()
            self.effect.prepare(frame, faces, self.state)
            self.clock.add("prepare", time.perf_counter() - t0)
        return FrameResult(index=frame.index, timestamp=frame.timestamp, faces=list(faces), frame=frame)

    def render(self, result: FrameResult) -> np.ndarray:
        """The effect's output for an analysed frame."""
        t0 = time.perf_counter()
        out = self.effect.apply(result.frame, result.faces, self.state)
        self.clock.add("effect", time.perf_counter() - t0)
        return out

    # -- IMAGE ---------------------------------------------------------------------
    def image(self, image, faces: Sequence[Face] | None = None) -> np.ndarray:
        """Apply the effect to one photo (path, RGB array or Frame); ``faces`` are reused when given."""
        from faceplay.face.analyzer import as_frame

        self._require(RunningMode.IMAGE, "image()")
        frame = as_frame(image)
        self._renew_state()  # photos are independent
        if faces is None:
            result = self.analyse(frame)
        else:
            faces = list(faces)[: self.max_faces]
            self._complete(frame, faces)
            result = FrameResult(index=0, timestamp=0.0, faces=faces, frame=frame)
        return self.render(result)

    # -- LIVE ----------------------------------------------------------------------
    def push(self, rgb: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Process the next live frame (RGB uint8); ``timestamp`` in seconds, default 30 fps spacing."""
        self._require(RunningMode.LIVE, "push()")
        if timestamp is None:
            timestamp = self._t
            self._t += 1 / 30.0
        result = self.analyse(Frame(np.ascontiguousarray(rgb), timestamp=timestamp))
        out = self.render(result)
        self.clock.frames += 1
        self.last = result
        return out

    def live(self, frames: Iterable[Frame], *, pipeline: bool = True) -> Iterator[tuple[FrameResult, np.ndarray]]:
        """(result, output) for every frame of a live source (a camera, or a file standing in for one).

        With ``pipeline`` the next frame is read and tracked in a worker thread while
        this one is rendered: 1.4-1.6x the frame rate of :meth:`push` on two cores
        (``faceplay bench avatar``), for one frame more of latency. Per-stage times are
        in ``self.clock``.
        """
        self._require(RunningMode.LIVE, "live()")
        for result, _ in self._analysed(frames, pipeline, depth=1):  # live: keep latency to a frame or two
            out = self.render(result)
            self.clock.frames += 1
            self.last = result
            yield result, out

    # -- VIDEO ---------------------------------------------------------------------
    def video(self, src: str | Path, dst: str | Path | None = None, *, progress: bool = False,
              on_progress: Callable[[int, int | None], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              on_frame: Callable[[FrameResult, np.ndarray | None], None] | None = None,
              pipeline: bool = True, encode_preset: str = "superfast", apply_effect: bool = True) -> VideoSummary:
        """Apply the effect to a video file; the output keeps frame count, frame rate and audio.

        ``dst`` None: nothing is encoded (``on_frame`` still sees every frame).
        ``on_progress(done, total)`` is called per frame; ``should_stop()`` ends
        the run early (the output is then closed with the frames done so far).
        ``apply_effect`` False skips the effect (analysis only, e.g. JSON lines).
        """
        from faceplay.media.video import ThreadedWriter, VideoReader, VideoWriter

        self._require(RunningMode.VIDEO, "video()")
        self._renew_state()
        self.clock = StageClock()
        alpha = self.effect.output_alpha()
        if dst is not None and alpha and Path(dst).suffix.lower() != ".webm":
            raise ConfigError(f"{Path(dst).name}: a transparent {self.effect.name} video needs a .webm output "
                              "(or give a background colour)")
        t_start = time.perf_counter()
        frame_ms: list[float] = []
        n_faces = 0
        stopped = False
        bar = None
        with VideoReader(src) as reader:
            if self._tracker is None:  # start-up (model check, graph: up to seconds) is not the first frame's time
                self._tracker = self.analyzer.tracker(smoothing=self.smoothing)
                if hasattr(self._tracker, "warm_up"):
                    self._tracker.warm_up(reader.width, reader.height)
            writer = None
            if dst is not None:
                w, h = self.effect.output_size(reader.width, reader.height)
                writer = VideoWriter(dst, reader.fps, w, h, audio_from=src if reader.has_audio else None,
                                     alpha=alpha, preset=encode_preset,
                                     threads=1 if pipeline and Path(dst).suffix.lower() != ".webm" else 0)  # x264
                if pipeline:  # encode in a third thread: the effect's thread only hands frames over
                    writer = ThreadedWriter(writer, on_encoded=lambda sec: self.clock.add("encode", sec))
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=reader.frame_count or None, unit="frame", desc=self.effect.name, leave=False)
            try:
                frames = self._decoded(reader)
                if pipeline:  # decoding in a thread of its own, a few frames ahead of tracking
                    frames = ahead(frames, 4, "faceplay-decode")
                for result, track_s in self._analysed(frames, pipeline, prepare=apply_effect):
                    t0 = time.perf_counter()
                    out = self.render(result) if apply_effect else None
                    if writer is not None:
                        t1 = time.perf_counter()
                        writer.write(out if out is not None else result.frame.rgb)
                        self.clock.add("write" if pipeline else "encode", time.perf_counter() - t1)
                    frame_ms.append((time.perf_counter() - t0 + track_s) * 1000.0)
                    self.clock.frames += 1
                    n_faces += bool(result.faces)
                    if on_frame is not None:
                        on_frame(result, out)
                    if bar is not None:
                        bar.update(1)
                    if on_progress is not None:
                        on_progress(self.clock.frames, reader.frame_count or None)
                    if should_stop is not None and should_stop():
                        stopped = True
                        break
                if writer is not None:
                    t1 = time.perf_counter()
                    writer.close()
                    self.clock.add("encode", time.perf_counter() - t1)
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
            finally:
                if bar is not None:
                    bar.close()
                self._close_tracker()
        dt = time.perf_counter() - t_start
        summary = VideoSummary(output=str(dst) if dst is not None else None, frames=self.clock.frames,
                               frames_with_faces=n_faces, seconds=round(dt, 2),
                               fps=round(self.clock.frames / max(dt, 1e-9), 2), ms_per_stage=self.clock.per_frame(),
                               frame_ms=percentiles(frame_ms), stopped=stopped)
        log.info("%s: %d frames in %.1f s (%.1f fps); per frame ms %s; frame ms p50 %.1f p99 %.1f max %.1f",
                 self.effect.name, summary.frames, dt, summary.fps, summary.ms_per_stage, summary.frame_ms["p50"],
                 summary.frame_ms["p99"], summary.frame_ms["max"])
        return summary

    def _analysed(self, frames: Iterable[Frame], pipeline: bool, *, prepare: bool = True,
                  depth: int = 3) -> Iterator[tuple[FrameResult, float]]:
        """(FrameResult, seconds spent tracking it), in order; one thread ahead when ``pipeline``
        (at most ``depth`` analysed frames waiting)."""
        def produce() -> Iterator[tuple[FrameResult, float]]:
            for frame in frames:
                t0 = time.perf_counter()
                result = self.analyse(frame, prepare=prepare)
                yield result, time.perf_counter() - t0

        if not pipeline:
            yield from produce()
            return
        yield from ahead(produce(), depth, f"faceplay-{self.effect.name}-track")

    def _decoded(self, reader) -> Iterator[Frame]:
        """The reader's frames, each one's decoding time in ``clock["decode"]``."""
        it = iter(reader)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            self.clock.add("decode", time.perf_counter() - t0)
            if frame is None:
                return
            yield frame

    # -- lifetime ------------------------------------------------------------------
    def _renew_state(self) -> None:
        """A fresh stream state; the one it replaces is released."""
        old, self.state = self.state, self.effect.new_state(self.mode)
        self.effect.release_state(old)

    def _close_tracker(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        self._seen.clear()

    def close(self) -> None:
        """Close the tracker and the analyser this runner created (the effect stays open).

        A VIDEO or LIVE stream's state is released; an IMAGE state stays until the
        effect's next photo or close, so the last photo's result can be inspected.
        """
        self._close_tracker()
        if self.mode is not RunningMode.IMAGE:
            self.effect.release_state(self.state)
        if self._own_analyzer and self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

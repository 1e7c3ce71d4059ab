"""The one benchmark harness: timing statistics, memory, machine facts, test data.

Every ``faceplay bench`` command builds on these, so figures are computed and
reported the same way everywhere: ratios against a baseline measured in the
same run (:func:`interleaved`), the CPU with its int8 features and the load
(:func:`machine`), and the real test data found one way (:func:`shared_data`).
"""

from __future__ import annotations

import os
import platform
import resource
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np


def stats(ms: Sequence[float]) -> dict:
    """median / mean / p90 / p99 / max milliseconds and the count of a list of timings."""
    from faceplay.runner import percentiles

    p = percentiles(ms)
    return {"median_ms": p["p50"], "mean_ms": round(float(np.mean(ms)), 3) if len(ms) else 0.0, "p90_ms": p["p90"],
            "p99_ms": p["p99"], "max_ms": p["max"], "n": len(ms)}


def time_ms(fn: Callable[[], object], repeat: int, *, warmup: int = 1) -> list[float]:
    """Milliseconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def interleaved(fns: dict[str, Callable[[], object]], runs: int, *, warmup: int = 2) -> dict[str, dict]:
    """Time several variants in alternation (a, b, b, a, ...) so machine load hits all alike; stats per label."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(runs):
        for k in (list(fns) if i % 2 == 0 else list(reversed(fns))):
            t = time.perf_counter()
            fns[k]()
            times[k].append((time.perf_counter() - t) * 1000.0)
    return {k: stats(v) for k, v in times.items()}


def raw_mediapipe_ms(frames: Sequence[tuple[np.ndarray, float]]) -> list[float]:
    """Per-frame ms of the MediaPipe FaceLandmarker task alone (VIDEO mode, blendshapes and matrix, no
    faceplay code around it) on ``frames`` ((rgb, t seconds) pairs): the reference speed of the
    avatar and relight benchmarks."""
    import mediapipe as mp

    from faceplay.face.landmarker import Landmarker
    from faceplay.face.types import RunningMode

    with Landmarker(RunningMode.VIDEO, max_faces=1) as lm:
        lm.detect(frames[0][0], 0)  # graph start + first detection, not timed
        ms = []
        for rgb, t in frames:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
            t0 = time.perf_counter()
            lm._run(image, int(t * 1000) + 1000)
            ms.append((time.perf_counter() - t0) * 1000)
    return ms


def live_stream(run, frames: Sequence[tuple[np.ndarray, float]], *, pipeline: bool = True) -> dict:
    """Time a LIVE runner over ``frames`` ((rgb, t) pairs) arriving as fast as it takes them:
    ``run.live`` (pipelined) or ``run.push`` one at a time. fps and per-frame latency (the frame's
    arrival to its output), and the number of frames."""
    from faceplay.media.frame import Frame
    from faceplay.runner import percentiles

    arrived: dict[int, float] = {}

    def source():
        for i, (rgb, t) in enumerate(frames):
            arrived[i] = time.perf_counter()
            yield Frame(rgb, index=i, timestamp=t)

    ms = []
    t0 = time.perf_counter()
    if pipeline:
        for result, _ in run.live(source()):
            ms.append((time.perf_counter() - arrived[result.index]) * 1000)
    else:
        for frame in source():
            run.push(frame.rgb, frame.timestamp)
            ms.append((time.perf_counter() - arrived[frame.index]) * 1000)
    dt = time.perf_counter() - t0
    return {"fps": round(len(frames) / dt, 2), "frame_ms": percentiles(ms), "frames": len(frames)}


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default) in MiB."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def python_allocations() -> Iterator[dict]:
    """Peak and current Python allocations (KB) inside the block (tracemalloc)."""
    out: dict = {}
    tracemalloc.start()
    try:
        yield out
    finally:
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.update(current_kb=round(cur / 1e3, 1), peak_kb=round(peak / 1e3, 1))


def machine() -> dict:
    """What a benchmark ran on: CPU model, family, int8 features and profile, cores, load, versions."""
    import onnxruntime

    from faceplay.machine import machine_summary

    m = machine_summary()
    return {**m, "cpu": m["model"], "python": platform.python_version(), "onnxruntime": onnxruntime.__version__}


def shared_data() -> Path:
    """The real test photos and videos: ``$FACEPLAY_SHARED/data``, else ``../shared/data`` beside
    the checkout (or beside the current folder); a :class:`ConfigError` says how to point to them."""
    from faceplay.errors import ConfigError

    env = os.environ.get("FACEPLAY_SHARED")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[3].parent / "shared", Path.cwd().parent / "shared",
                                          Path.cwd() / "shared"]
    for c in candidates:
        if (c / "data").is_dir():
            return (c / "data").resolve()
    raise ConfigError(f"the benchmark data folder was not found ({', '.join(str(c / 'data') for c in candidates)}); "
                      "set FACEPLAY_SHARED to the folder that holds data/faces and data/videos")


def describe_machine(m: dict) -> str:
    """One line for a benchmark's text output."""
    return (f"CPU {m['model']} {m.get('family', '')} ({m.get('profile', '?')}: {', '.join(m.get('int8_features', []))}), "
            f"{m.get('cores')} cores, load {m.get('load_1min')}")

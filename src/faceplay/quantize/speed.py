"""Latency of float vs INT8 sessions measured in the same run, interleaved.

The CPU is shared, so the two models are timed in alternation (one float
call, one INT8 call, ...) on the same real input: background load hits both
alike and their ratio stays meaningful even when absolute times drift.
"""

from __future__ import annotations

import time

import numpy as np


def latency(paths: dict[str, object], x: np.ndarray, *, threads: int, runs: int = 40, warmup: int = 5) -> dict[str, dict]:
    """Median / p90 ms per label of ``paths`` (label -> file path or model bytes), batch 1."""
    from faceplay.quantize.validate import session

    sessions = {k: session(p, threads) for k, p in paths.items()}
    feeds = {k: {s.get_inputs()[0].name: x} for k, s in sessions.items()}
    for _ in range(warmup):
        for k, s in sessions.items():
            s.run(None, feeds[k])
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for i in range(runs):
        order = list(sessions) if i % 2 == 0 else list(reversed(sessions))
        for k in order:
            t = time.perf_counter()
            sessions[k].run(None, feeds[k])
            times[k].append((time.perf_counter() - t) * 1000.0)
    return {k: {"median_ms": float(np.median(v)), "p90_ms": float(np.percentile(v, 90)), "runs": len(v)} for k, v in times.items()}

"""``faceplay bench lookalike --n 10000000``: the gallery index at N faces on this machine, with bounded RAM.

The vectors are the same kind as the in-RAM benchmark's (clustered unit
vectors, :func:`~faceplay.bench.lookalike.clustered_unit_vectors`) but made
in chunks from one fixed mixture, so 10M x 128-D (5 GB of float32) never sits
in memory: each chunk is added to the index the store would choose for N
faces (:func:`~faceplay.lookalike.stores.faiss_index.choose_kind`) and
scanned exactly for the sampled queries' true top-10, then dropped.

Reported: the index kind and lists, build time (training + adding; making
the vectors is timed apart), the index's RAM (RSS growth over the build and
its size on disk), the process's peak RSS, single-query p50/p99 at one
thread, recall@10 against the exact top-10 of the sample.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from faceplay.bench.harness import rss_mb

log = logging.getLogger(__name__)

CHUNK = 250_000


class ChunkedMixture:
    """``n`` clustered unit vectors produced chunk by chunk (the same vectors on every pass)."""

    def __init__(self, n: int, dim: int, *, seed: int = 0, spread: float = 0.7, chunk: int = CHUNK) -> None:
        rng = np.random.default_rng(seed)
        self.n, self.dim, self.seed, self.spread, self.chunk = n, dim, seed, spread, chunk
        self.centres = rng.standard_normal((max(16, int(np.sqrt(n))), dim), dtype=np.float32)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vectors, ids) of ``chunk`` rows at a time; ids are row numbers."""
        for c, start in enumerate(range(0, self.n, self.chunk)):
            m = min(self.chunk, self.n - start)
            rng = np.random.default_rng([self.seed, c])
            v = self.centres[rng.integers(0, len(self.centres), m)]
            v += self.spread * rng.standard_normal((m, self.dim), dtype=np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            yield v, np.arange(start, start + m, dtype=np.int64)

    def queries(self, count: int, seed: int = 5) -> np.ndarray:
        """Queries near gallery faces (perturbed rows of the first chunk), as the in-RAM benchmark makes them."""
        first, _ = next(self.chunks())
        rng = np.random.default_rng(seed)
        q = first[rng.integers(0, len(first), count)]
        q = q + 0.5 * rng.standard_normal(q.shape, dtype=np.float32) / np.sqrt(self.dim)
        return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def _merge_topk(best_s: np.ndarray, best_i: np.ndarray, s: np.ndarray, i: np.ndarray, k: int):
    """Keep the k best (similarity, id) per row of two candidate sets."""
    cs, ci = np.concatenate([best_s, s], axis=1), np.concatenate([best_i, i], axis=1)
    order = np.argsort(-cs, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cs, order, 1), np.take_along_axis(ci, order, 1)


def scale_benchmark(n: int, dim: int = 128, n_queries: int = 1000, k: int = 10, kind: str = "auto") -> dict[str, Any]:
    """Build the store's index for ``n`` faces from chunks and measure it (see the module docstring)."""
    import faiss

    from faceplay.lookalike.stores import faiss_index

    data = ChunkedMixture(n, dim)
    queries = data.queries(n_queries)
    kind = faiss_index.choose_kind(n, kind)
    truth_s = np.full((n_queries, k), -np.inf, np.float32)
    truth_i = np.full((n_queries, k), -1, np.int64)
    timers = {"gen": 0.0, "truth": 0.0}

    def timed_chunks():
        nonlocal truth_s, truth_i
        it = data.chunks()
        while True:
            t = time.perf_counter()
            got = next(it, None)
            timers["gen"] += time.perf_counter() - t
            if got is None:
                return
            t = time.perf_counter()
            flat = faiss.IndexFlatIP(dim)  # the exact top-k of this chunk for the query sample
            flat.add(got[0])
            s, i = flat.search(queries, k)
            truth_s, truth_i = _merge_topk(truth_s, truth_i, s, i + int(got[1][0]), k)
            del flat
            timers["truth"] += time.perf_counter() - t
            log.info("%s: %d / %d vectors", kind, int(got[1][-1]) + 1, n)
            yield got

    gc.collect()
    r0, t0 = rss_mb(), time.perf_counter()
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))  # the build uses every core, a query one
    index = faiss_index.build_from_chunks(timed_chunks(), n, dim, kind)
    faiss.omp_set_num_threads(1)
    build = time.perf_counter() - t0 - timers["gen"] - timers["truth"]
    gc.collect()
    ram = rss_mb() - r0
    with tempfile.TemporaryDirectory(prefix="faceplay-bench-scale-") as tmp:
        path = Path(tmp) / "index.faiss"
        faiss.write_index(index, str(path))
        size = path.stat().st_size / 2**20
    ts, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(faiss_index.search(index, q, k)[1][0])
        ts.append(time.perf_counter() - t)
    ms = np.asarray(ts) * 1000
    recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, truth_i)]))
    nlist = faiss.extract_index_ivf(index).nlist if kind.startswith("ivf") else None
    nprobe = faiss.extract_index_ivf(index).nprobe if kind.startswith("ivf") else None
    del index
    gc.collect()
    return {"n": n, "dim": dim, "backend": f"store index ({kind})", "nlist": nlist, "nprobe": nprobe,
            "build_s": build, "gen_s": timers["gen"], "truth_s": timers["truth"], "ram_mb": ram, "index_mb": size,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "recall@10": recall,
            "queries": n_queries}


def print_scale(rows: list[dict[str, Any]]) -> None:
    """The scale rows as a table (click.echo)."""
    import click

    from faceplay.clikit import table

    click.echo(table([[r["n"], r["backend"], r["nlist"], r["nprobe"], f"{r['build_s']:.0f}", f"{r['ram_mb']:.0f}",
                       f"{r['index_mb']:.0f}", f"{r['peak_rss_mb']:.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}",
                       f"{r['recall@10']:.3f}"] for r in rows],
                     ["n", "index", "lists", "nprobe", "build s", "RAM MB", "file MB", "peak RSS MB", "p50 ms",
                      "p99 ms", "recall@10"]))

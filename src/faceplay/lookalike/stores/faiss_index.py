"""FAISS index choice, build and persistence for the embedded gallery.

Index by gallery size (inner product on L2-normalised vectors = cosine):

* fewer than :data:`EXACT_MAX` vectors: exact ``IndexFlatIP`` (a query costs
  under a millisecond up to there and recall is 1);
* up to :data:`IVF_MAX`-ish and beyond: ``IVF{nlist}-SQ8`` with
  ``nlist ~ 4*sqrt(n)`` (4096 at 1M) searched with ``nprobe`` 16 (docs/DESIGN.md:
  recall@10 0.975 at 1M, p50 0.28 ms);
* from :data:`LARGE_MIN` vectors (10M faces on one machine): ``IVF4096_HNSW32-SQ8``
  (``ivf_hnsw_sq8``): the same SQ8 codes (``dim`` bytes a face: 1.3 GB at
  10M x 128-D) in at most :data:`NLIST_LARGE` lists, whose centroids sit in
  an HNSW graph, so assigning 10M vectors at build time and choosing the
  lists to probe at query time no longer compares against every centroid.
  Built from chunks (:func:`build_from_chunks`): RAM holds the index plus
  one chunk, never every float vector (docs/LOOKALIKE_SCALE.md);
* ``HNSW32`` (efConstruction 128, efSearch 64) on request: higher recall, 3x
  the memory and a much slower build.

Every index is wrapped so that FAISS ids are the gallery's entry ids.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable

import numpy as np

log = logging.getLogger(__name__)

EXACT_MAX = 50_000
LARGE_MIN = 2_000_000
NLIST_LARGE = 4096  #: lists of the large index: k-means over more centroids costs hours on a laptop-class CPU
NPROBE = 16
TRAIN_PER_LIST = 64
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128  # the default 40 stalls at recall 0.90 (docs/DESIGN.md)
HNSW_EF_SEARCH = 64
KINDS = ("auto", "flat", "ivf_sq8", "ivf_hnsw_sq8", "hnsw")
CHUNK = 250_000  #: vectors added to an index per call when building from chunks


def _faiss():
    import faiss

    return faiss


def choose_kind(n: int, kind: str = "auto") -> str:
    """The index kind for ``n`` vectors (``auto`` picks by size)."""
    if kind not in KINDS:
        from faceplay.errors import ConfigError

        raise ConfigError(f"index must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind != "auto":
        return kind
    return "flat" if n < EXACT_MAX else "ivf_sq8" if n < LARGE_MIN else "ivf_hnsw_sq8"


def nlist_for(n: int) -> int:
    """IVF list count: about 4*sqrt(n), a power of two, at least 64, at most n/39 (FAISS's training rule)."""
    target = 4 * np.sqrt(max(n, 1))
    nlist = 1 << int(round(np.log2(max(target, 64))))
    return int(max(16, min(nlist, max(16, n // 39))))


def build(vectors: np.ndarray, ids: np.ndarray, kind: str = "auto", *, threads: int | None = None):
    """Build an index of ``kind`` over ``vectors`` (n, d) float32 with int64 ``ids``."""
    n, d = vectors.shape if len(vectors) else (0, vectors.shape[1])
    return build_from_chunks(((vectors[i:i + CHUNK], ids[i:i + CHUNK]) for i in range(0, n, CHUNK)), n, d, kind,
                             threads=threads)


def build_from_chunks(chunks: Iterable[tuple[np.ndarray, np.ndarray]], n: int, dim: int, kind: str = "auto", *,
                      threads: int | None = None):
    """Build an index of ``kind`` for ``n`` vectors arriving as (vectors, ids) chunks (RAM: the index + a chunk).

    IVF indexes are trained on a random sample of the first chunks (they must be an unbiased
    sample of the whole, as rows in insertion order are).
    """
    faiss = _faiss()
    if threads:
        faiss.omp_set_num_threads(threads)
    kind = choose_kind(n, kind)
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind in ("ivf_sq8", "ivf_hnsw_sq8"):
        nlist = nlist_for(n) if kind == "ivf_sq8" else min(nlist_for(n), NLIST_LARGE)
        if kind == "ivf_sq8":
            quantizer = faiss.IndexFlatIP(dim)
        else:
            quantizer = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            quantizer.hnsw.efConstruction, quantizer.hnsw.efSearch = HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    elif kind == "hnsw":
        h = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        h.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        h.hnsw.efSearch = HNSW_EF_SEARCH
        index = faiss.IndexIDMap2(h)
    else:  # pragma: no cover - choose_kind validated it
        raise AssertionError(kind)
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    need = index.nlist * TRAIN_PER_LIST if isinstance(index, faiss.IndexIVF) else 0
    for vecs, ids in chunks:
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not index.is_trained:
            pending.append((vecs, ids))
            if sum(len(v) for v, _ in pending) < need:
                continue
            _train(index, np.concatenate([v for v, _ in pending]))
            for v, i in pending:
                index.add_with_ids(v, i)
            pending = []
        elif len(ids):
            index.add_with_ids(vecs, ids)
    if pending:  # fewer vectors than the training sample asks for: train on them all
        _train(index, np.concatenate([v for v, _ in pending]))
        for v, i in pending:
            index.add_with_ids(v, i)
    return index


def _train(index, vectors: np.ndarray) -> None:
    """k-means of an IVF index on at most nlist * TRAIN_PER_LIST of ``vectors`` (64 a list is plenty)."""
    faiss = _faiss()
    ivf = faiss.extract_index_ivf(index)
    if len(vectors) > ivf.nlist * TRAIN_PER_LIST:
        vectors = vectors[np.random.default_rng(0).choice(len(vectors), ivf.nlist * TRAIN_PER_LIST, replace=False)]
    ivf.train(vectors)
    ivf.nprobe = NPROBE
    log.debug("trained %d lists on %d vectors", ivf.nlist, len(vectors))


def kind_of(index) -> str:
    """The kind name of a built index."""
    faiss = _faiss()
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVF):
        q = faiss.downcast_index(faiss.extract_index_ivf(inner).quantizer)
        return "ivf_hnsw_sq8" if isinstance(q, faiss.IndexHNSW) else "ivf_sq8"
    return "flat"


def search(index, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None):
    """Search; ``allowed`` (sorted int64 ids) restricts results to those ids. Returns (sims, ids)."""
    faiss = _faiss()
    q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    params = None
    kind = kind_of(index)
    if allowed is not None:
        # a filter hides part of each visited neighbourhood: widen the search in proportion
        widen = float(np.clip(index.ntotal / max(len(allowed), 1), 1.0, 16.0))
        sel = faiss.IDSelectorBatch(allowed)
        if kind.startswith("ivf"):
            nlist = faiss.extract_index_ivf(index).nlist
            params = faiss.SearchParametersIVF(sel=sel, nprobe=int(min(nlist, NPROBE * 2 * widen)))
        elif kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=int(min(2048, max(HNSW_EF_SEARCH, 4 * k) * 2 * widen)))
        else:
            params = faiss.SearchParameters(sel=sel)
        params._sel = sel  # keep the selector alive during the call
    elif kind == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    if params is not None:  # IndexIDMap translates the selector to external ids itself
        return index.search(q, k, params=params)
    return index.search(q, k)


def save(index, path: Path) -> None:
    """Write the index atomically (temp file + fsync + os.replace)."""
    faiss = _faiss()
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path):
    """Read an index written by :func:`save`."""
    faiss = _faiss()
    index = faiss.read_index(str(path))
    if kind_of(index).startswith("ivf"):
        faiss.extract_index_ivf(index).nprobe = NPROBE
    return index

"""FAISS index choice, build and persistence for the embedded gallery.

Index by gallery size (inner product on L2-normalised vectors = cosine):

* fewer than :data:`EXACT_MAX` vectors: exact ``IndexFlatIP`` (a query costs
  under a millisecond up to there and recall is 1);
* up to :data:`IVF_MAX`-ish and beyond: ``IVF{nlist}-SQ8`` with
  ``nlist ~ 4*sqrt(n)`` (4096 at 1M) searched with ``nprobe`` 16 (DESIGN.md:
  recall@10 0.975 at 1M, p50 0.28 ms);
* ``HNSW32`` (efConstruction 128, efSearch 64) on request: higher recall, 3x
  the memory and a much slower build.

Every index is wrapped so that FAISS ids are the gallery's entry ids.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXACT_MAX = 50_000
NPROBE = 16
TRAIN_PER_LIST = 64
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128  # the default 40 stalls at recall 0.90 (DESIGN.md)
HNSW_EF_SEARCH = 64
KINDS = ("auto", "flat", "ivf_sq8", "hnsw")


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
    return "flat" if n < EXACT_MAX else "ivf_sq8"


def nlist_for(n: int) -> int:
    """IVF list count: about 4*sqrt(n), a power of two, at least 64, at most n/39 (FAISS's training rule)."""
    target = 4 * np.sqrt(max(n, 1))
    nlist = 1 << int(round(np.log2(max(target, 64))))
    return int(max(16, min(nlist, max(16, n // 39))))


def build(vectors: np.ndarray, ids: np.ndarray, kind: str = "auto", *, threads: int | None = None):
    """Build an index of ``kind`` over ``vectors`` (n, d) float32 with int64 ``ids``."""
    faiss = _faiss()
    if threads:
        faiss.omp_set_num_threads(threads)
    n, d = vectors.shape if len(vectors) else (0, vectors.shape[1])
    kind = choose_kind(n, kind)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    elif kind == "ivf_sq8":
        nlist = nlist_for(n)
        quantizer = faiss.IndexFlatIP(d)
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        train = vectors
        if n > nlist * TRAIN_PER_LIST:  # k-means on a sample: 64 points per list is plenty (FAISS warns below 39)
            rng = np.random.default_rng(0)
            train = vectors[rng.choice(n, nlist * TRAIN_PER_LIST, replace=False)]
        ivf.train(train)
        ivf.nprobe = NPROBE
        index = ivf
    elif kind == "hnsw":
        h = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        h.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        h.hnsw.efSearch = HNSW_EF_SEARCH
        index = faiss.IndexIDMap2(h)
    else:  # pragma: no cover - choose_kind validated it
        raise AssertionError(kind)
    if n:
        index.add_with_ids(vectors, ids)
    return index


def kind_of(index) -> str:
    """The kind name of a built index."""
    faiss = _faiss()
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVF):
        return "ivf_sq8"
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
        if kind == "ivf_sq8":
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
    if kind_of(index) == "ivf_sq8":
        faiss.extract_index_ivf(index).nprobe = NPROBE
    return index

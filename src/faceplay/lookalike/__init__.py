"""Lookalike search ("another you"): a gallery of faces from photos and videos,
vector search (embedded FAISS or Milvus), attribute re-ranking.

Public API (imports are lazy: no model or vector library loads on import)::

    open_gallery(db, create=False, ...) -> GalleryStore   # folder | file.db | http://host:19530
    Ingester(store).add(paths) -> IngestReport
    LookalikeSearch(store).search(rgb) -> LookalikeResult
    RerankWeights, Filter
"""

from __future__ import annotations

from typing import Any

__all__ = ["open_gallery", "Ingester", "IngestReport", "LookalikeSearch", "LookalikeResult", "RerankWeights", "Filter",
           "GalleryEntry", "GalleryStore"]

_LAZY = {
    "Ingester": "faceplay.lookalike.ingest",
    "IngestReport": "faceplay.lookalike.ingest",
    "LookalikeSearch": "faceplay.lookalike.search",
    "LookalikeResult": "faceplay.lookalike.search",
    "RerankWeights": "faceplay.lookalike.rerank",
    "Filter": "faceplay.lookalike.schema",
    "GalleryEntry": "faceplay.lookalike.schema",
    "GalleryStore": "faceplay.lookalike.stores.base",
}


def open_gallery(db, **kwargs):
    """Open a gallery (see :func:`faceplay.lookalike.stores.open_store`)."""
    from faceplay.lookalike.stores import open_store

    return open_store(db, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)

"""Gallery backends behind one interface (:class:`GalleryStore`) and :func:`open_store`."""

from __future__ import annotations

import os

from faceplay.lookalike.stores.base import GalleryStore


def open_store(db: str | os.PathLike, *, dim: int | None = None, embedding_model: str | None = None,
               create: bool = False, **options) -> GalleryStore:
    """Open (or with ``create`` make) the gallery named by ``db``.

    * a folder path: the embedded store (SQLite + FAISS), see :mod:`.embedded`;
    * a path ending in ``.db``: milvus-lite (a local Milvus in one file);
    * ``http://host:19530`` (or https/tcp): a Milvus standalone server or cluster.

    ``options`` go to the backend (``index=``; Milvus: ``collection=``, ``consistency=``, ``shards=``).
    """
    from faceplay.lookalike.stores.milvus import is_milvus_location

    s = os.fspath(db)
    if is_milvus_location(s):
        from faceplay.lookalike.stores.milvus import MilvusStore

        return MilvusStore(s, dim=dim, embedding_model=embedding_model, create=create, **options)
    from faceplay.lookalike.stores.embedded import EmbeddedStore

    for milvus_only in ("collection", "consistency", "shards"):
        options.pop(milvus_only, None)
    return EmbeddedStore(s, dim=dim, embedding_model=embedding_model, create=create, **options)


__all__ = ["GalleryStore", "open_store"]

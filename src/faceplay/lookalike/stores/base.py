"""The one interface every gallery backend implements (embedded FAISS, Milvus)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

import numpy as np

from faceplay.lookalike.schema import FileRecord, Filter, GalleryEntry, Hit

#: A filter that keeps at most this fraction of the gallery (or this many rows)
#: is answered by exact search over the filtered rows: inside ANN indexes the
#: recall collapses for very selective filters (docs/DESIGN.md: 0.05-0.25 at 0.1 %).
EXACT_FILTER_FRACTION = 0.02
EXACT_FILTER_ROWS = 20_000


class GalleryStore(ABC):
    """A gallery: face vectors with their metadata and thumbnails, plus the ingested files.

    Implementations guarantee that :meth:`add_file` is atomic per file as seen
    by :meth:`has_file`: once ``has_file(h)`` is true every entry of that file
    is stored, so an interrupted ingestion can simply be re-run.
    """

    #: embedding dimension (fixed when the gallery is created)
    dim: int
    #: name of the embedding model the gallery was built with
    embedding_model: str
    #: human-readable location (folder, file or URI)
    location: str

    # -- writing ---------------------------------------------------------
    @abstractmethod
    def add_file(self, record: FileRecord, entries: list[GalleryEntry]) -> None:
        """Store a file's entries and mark the file ingested (idempotent)."""

    @abstractmethod
    def remove_source(self, source: str) -> int:
        """Delete every entry of a source (a file path as ingested, a folder, or a content hash); returns the count.

        Matching is exact and case-sensitive (:func:`source_patterns`); a source
        that matches no ingested file raises :class:`~faceplay.errors.StoreError`.
        """

    def writer_lock(self, *, wait: bool = True):
        """A context manager held by a whole ingestion run so concurrent runs do not both add the same files.

        Folder galleries lock the folder; other backends return a no-op.
        """
        import contextlib

        return contextlib.nullcontext()

    @abstractmethod
    def update_attributes(self, entry_id: int, attributes: dict[str, Any]) -> None:
        """Replace the stored attributes of one entry (e.g. computed later from its thumbnail)."""

    # -- reading ---------------------------------------------------------
    @abstractmethod
    def has_file(self, content_hash: str) -> bool:
        """True when a file with this content was already ingested completely."""

    @abstractmethod
    def count(self, flt: Filter | None = None) -> int:
        """Number of entries (matching ``flt``)."""

    @abstractmethod
    def search(self, vector: np.ndarray, k: int, flt: Filter | None = None) -> list[Hit]:
        """The ``k`` entries most similar (cosine) to ``vector``, best first."""

    @abstractmethod
    def get(self, ids: Iterable[int]) -> list[GalleryEntry]:
        """Entries by id, in the order asked (missing ids are skipped)."""

    @abstractmethod
    def files(self) -> list[FileRecord]:
        """Every ingested file."""

    def stats(self) -> dict[str, Any]:
        """Summary: counts, dimension, model, backend, per-kind file counts."""
        files = self.files()
        return {
            "backend": self.backend,
            "location": self.location,
            "entries": self.count(),
            "files": len(files),
            "images": sum(1 for f in files if f.kind == "image"),
            "videos": sum(1 for f in files if f.kind == "video"),
            "files_without_faces": sum(1 for f in files if f.n_faces == 0),
            "dim": self.dim,
            "embedding_model": self.embedding_model,
        }

    backend: str = "?"

    def flush(self) -> None:
        """Persist any cached index (no-op where the backend persists itself)."""

    def close(self) -> None:
        """Release the backend (flushes first)."""

    def __enter__(self) -> "GalleryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def source_patterns(source: str) -> tuple[list[str], list[str]]:
    """What ``gallery remove SOURCE`` matches: (exact paths, folder prefixes ending in ``/``).

    SOURCE as given and resolved to an absolute path; a folder matches the
    files under it (compared character by character, case-sensitive, no
    wildcards). A content hash matches only itself (empty lists). An empty
    SOURCE is refused.
    """
    from pathlib import Path

    from faceplay.errors import ConfigError

    if not source.strip():
        raise ConfigError("SOURCE is empty; give the file, folder or sha256 to remove (`faceplay gallery stats --files` lists them)")
    if is_hash(source):
        return [], []
    exact = list(dict.fromkeys([source, str(Path(source).resolve())]))
    prefixes = list(dict.fromkeys(p.rstrip("/") + "/" for p in exact))
    return exact, prefixes


def source_matches(path: str, content_hash: str, source: str) -> bool:
    """True when an ingested file (``path``, ``content_hash``) is selected by ``gallery remove SOURCE``."""
    exact, prefixes = source_patterns(source)
    return content_hash == source or path in exact or any(path.startswith(p) for p in prefixes)


def is_hash(s: str) -> bool:
    """True for a lowercase hex sha256 (64 characters)."""
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def exact_topk(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[Hit]:
    """Exact cosine top-k over a small set of L2-normalised rows."""
    if len(ids) == 0:
        return []
    sims = vectors @ query.astype(np.float32)
    k = min(k, len(ids))
    top = np.argpartition(-sims, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    top = top[np.argsort(-sims[top], kind="stable")]
    return [Hit(int(ids[i]), float(sims[i])) for i in top]


def use_exact(n_filtered: int, n_total: int) -> bool:
    """Whether a filter is selective enough to answer it by exact search over its rows."""
    return n_filtered <= EXACT_FILTER_ROWS or n_filtered <= EXACT_FILTER_FRACTION * max(n_total, 1)

"""Typed records of the lookalike gallery: entries, ingested files, search hits, filters."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The attributes an entry stores (besides the embedding).
ATTRIBUTE_KEYS: tuple[str, ...] = (
    "age", "gender", "gender_score", "expression", "expression_scores", "skin_tone", "face_shape", "quality",
)


@dataclass
class GalleryEntry:
    """One face in the gallery.

    ``id`` is a deterministic 63-bit integer derived from the source file's
    content hash and the face's index in that file, or its frame time in a
    video (:func:`entry_id`), so a re-ingested file maps to the same ids on
    every backend and every ingestion engine.
    """

    id: int
    embedding: np.ndarray  #: (dim,) float32, L2-normalised
    file_hash: str  #: sha256 of the source file's bytes
    source: str  #: path of the source file as given at ingestion
    timestamp: float | None = None  #: seconds into the video, None for photos
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  #: x, y, w, h in the source frame
    track_id: int | None = None  #: person-track id within the video
    attributes: dict[str, Any] = field(default_factory=dict)  #: see :data:`ATTRIBUTE_KEYS`
    thumbnail: bytes = b""  #: small JPEG of the face (with margin)

    @property
    def age(self) -> float | None:
        v = self.attributes.get("age")
        return None if v is None else float(v)

    @property
    def gender(self) -> str | None:
        return self.attributes.get("gender")

    @property
    def expression(self) -> str | None:
        return self.attributes.get("expression")

    def meta_json(self) -> str:
        """The non-vector, non-thumbnail fields as compact JSON (stored by every backend)."""
        return json.dumps(
            {"box": [round(float(v), 1) for v in self.box], "track_id": self.track_id, "attributes": self.attributes},
            separators=(",", ":"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no embedding, no thumbnail bytes)."""
        return {
            "id": self.id,
            "source": self.source,
            "timestamp": None if self.timestamp is None else round(float(self.timestamp), 3),
            "box": [round(float(v), 1) for v in self.box],
            "track_id": self.track_id,
            **{k: v for k, v in self.attributes.items() if v is not None},
        }


@dataclass(frozen=True)
class FileRecord:
    """One ingested source file (kept even when it held no face, so re-runs skip it)."""

    content_hash: str
    path: str
    kind: str  #: "image" | "video"
    n_faces: int


@dataclass(frozen=True)
class Hit:
    """A search result: entry id and cosine similarity to the query."""

    id: int
    similarity: float


@dataclass(frozen=True)
class Filter:
    """Metadata filter pushed down to the store: gender and an inclusive age range."""

    gender: str | None = None
    age_min: float | None = None
    age_max: float | None = None

    def is_empty(self) -> bool:
        return self.gender is None and self.age_min is None and self.age_max is None

    def milvus_expr(self) -> str:
        """The filter as a Milvus boolean expression ("" when empty)."""
        parts = []
        if self.gender is not None:
            parts.append(f"gender == {gender_code(self.gender)}")
        if self.age_min is not None:
            parts.append(f"age >= {float(self.age_min)}")
        if self.age_max is not None:
            parts.append(f"age <= {float(self.age_max)}")
            if self.age_min is None:
                parts.append("age >= 0")  # -1 marks an unknown age
        return " and ".join(parts)

    def sql(self) -> tuple[str, list[Any]]:
        """The filter as an SQL WHERE clause over the ``faces`` table and its parameters."""
        parts, params = [], []
        if self.gender is not None:
            parts.append("gender = ?")
            params.append(gender_code(self.gender))
        if self.age_min is not None:
            parts.append("age >= ?")
            params.append(float(self.age_min))
        if self.age_max is not None:
            parts.append("age <= ?")
            params.append(float(self.age_max))
        return (" AND ".join(parts) or "1"), params


_GENDER_CODES = {None: 0, "male": 1, "female": 2}


def gender_code(gender: str | None) -> int:
    """0 unknown, 1 male, 2 female (stored as an integer so every backend can index it)."""
    from faceplay.errors import ConfigError

    if gender not in _GENDER_CODES:
        raise ConfigError(f"gender must be 'male' or 'female', not {gender!r}")
    return _GENDER_CODES[gender]


def entry_id(content_hash: str, index: int, timestamp: float | None = None) -> int:
    """Deterministic positive 63-bit id of a face: the file's content hash plus, for a video, the frame time.

    Photos key on (hash, ``index``: the face's position in the photo); video faces on (hash, frame time
    in ms, ``index``: the position among faces of that same frame), so the id of a video face does not
    depend on how the video was cut into work units or in which order the units finished.
    """
    key = f"{content_hash}:{index}" if timestamp is None else f"{content_hash}@{round(timestamp * 1000)}:{index}"
    h = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") & ((1 << 63) - 1)


def file_hash(path: str | bytes | "os.PathLike[str]", chunk: int = 1 << 20) -> str:
    """sha256 of a file's content (identifies a file independently of its name)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()

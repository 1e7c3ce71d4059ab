"""Lookalike search: query photo -> face -> embedding -> approximate top-K ->
top N by identity -> attribute analysis -> re-rank -> the winner.

>>> from faceplay.lookalike import open_gallery, LookalikeSearch
>>> with open_gallery("gallery/") as store:
...     result = LookalikeSearch(store).search(read_image("me.jpg"))
...     result.winner.source, result.winner.terms
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceplay.errors import ConfigError, NoFaceError, StoreError
from faceplay.face.types import Face
from faceplay.lookalike.faces import ATTRIBUTE_FIELDS, FaceSource, attributes_of, decode_thumbnail
from faceplay.lookalike.rerank import RerankWeights, rerank
from faceplay.lookalike.schema import Filter, GalleryEntry
from faceplay.lookalike.stores.base import GalleryStore
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)

DEFAULT_K = 50
DEFAULT_TOP = 3
#: query photos are analysed at most this large (long side, px): detection cost grows with the pixels, and a
#: face filling a selfie keeps 100+ px at this size; a face smaller than MIN_QUERY_FACE_PX there is re-done
#: at full resolution
QUERY_MAX_SIDE = 512
MIN_QUERY_FACE_PX = 64
#: attributes the re-rank compares; a candidate missing one is analysed from its thumbnail
RERANK_ATTRIBUTES = ("age", "gender", "expression")


def _downscale(rgb: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """``rgb`` resized (area filter) so its long side is at most ``max_side``, and the scale used."""
    h, w = rgb.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return rgb, 1.0
    import cv2

    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


@dataclass
class Match:
    """One re-ranked gallery face with the terms that explain its score."""

    entry: GalleryEntry
    similarity: float
    score: float
    terms: dict[str, float]
    contributions: dict[str, float]
    rank_by_identity: int  #: 1-based position by identity similarity alone

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "id": e.id,
            "source": e.source,
            "timestamp": None if e.timestamp is None else round(float(e.timestamp), 3),
            "box": [round(float(v), 1) for v in e.box],
            "similarity": round(self.similarity, 4),
            "score": round(self.score, 4),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
            "contributions": {k: round(v, 4) for k, v in self.contributions.items()},
            "rank_by_identity": self.rank_by_identity,
            "attributes": {k: v for k, v in e.attributes.items() if k in ("age", "gender", "gender_score", "expression",
                                                                          "skin_tone", "face_shape")},
        }


@dataclass
class LookalikeResult:
    """The query's attributes, the winner and the re-ranked top N."""

    query: dict[str, Any]
    winner: Match
    top: list[Match]
    candidates: int  #: how many approximate neighbours were retrieved
    weights: RerankWeights = field(default_factory=RerankWeights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "winner": self.winner.to_dict(),
            "top": [m.to_dict() for m in self.top],
            "candidates": self.candidates,
            "weights": self.weights.to_dict(),
        }


_POOL = None


def _pool():
    """One worker thread shared by all searches (query attributes in parallel with embed + search)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookalike-attrs")
    return _POOL


class LookalikeSearch:
    """Find the gallery face that looks most like a query face.

    ``k``: approximate neighbours retrieved; ``top``: how many of them (by
    identity similarity) are analysed and re-ranked; ``weights``: the combined
    score (:mod:`faceplay.lookalike.rerank`); ``flt``: a metadata filter.
    """

    def __init__(self, store: GalleryStore, faces: FaceSource | None = None, *, k: int = DEFAULT_K,
                 top: int = DEFAULT_TOP, weights: RerankWeights | None = None, flt: Filter | None = None,
                 cache_attributes: bool = True, query_max_side: int | None = QUERY_MAX_SIDE) -> None:
        if top < 1 or k < top:
            raise ConfigError(f"need 1 <= top <= k, got top={top}, k={k}")
        self.store = store
        self.faces = faces or FaceSource(store.embedding_model or "sface")
        if self.faces.embedding_model != (store.embedding_model or self.faces.embedding_model):
            raise ConfigError(f"the gallery was built with {store.embedding_model} embeddings; "
                              f"search it with --embedding-model {store.embedding_model}")
        self.k, self.top = k, top
        self.weights = weights or RerankWeights()
        self.flt = flt
        self.cache_attributes = cache_attributes
        self.query_max_side = query_max_side

    def query_face(self, rgb: np.ndarray, face_index: int | None = None, *, name: str = "the query image") -> tuple[Frame, Face]:
        """Detect the query face: the largest, or the ``face_index``-th (0-based, largest first)."""
        faces = self.faces.photo_faces(rgb, fields=())
        if not faces:
            raise NoFaceError(f"no face found in {name}; use a photo where one face is clearly visible, frontal and "
                              "at least ~40 pixels wide")
        if face_index is None:
            face = max(faces, key=lambda f: f.box[2] * f.box[3])
        elif 0 <= face_index < len(faces):
            face = faces[face_index]
        else:
            raise ConfigError(f"--face {face_index}: {name} has {len(faces)} face(s), numbered 0..{len(faces) - 1} "
                              "from the largest")
        return Frame(rgb), face

    def search(self, rgb: np.ndarray, *, face_index: int | None = None, name: str = "the query image") -> LookalikeResult:
        """The whole pipeline on a photo (RGB uint8)."""
        if self.store.count() == 0:
            raise StoreError(f"the gallery at {self.store.location} is empty; add photos or videos with "
                             "`faceplay gallery add PATH... --db DB`")
        small, scale = _downscale(rgb, self.query_max_side)
        frame, face = self.query_face(small, face_index, name=name)
        if scale < 1.0 and min(face.box[2], face.box[3]) < MIN_QUERY_FACE_PX:
            small, scale = rgb, 1.0  # a small face in a big photo: detect and embed at full resolution
            frame, face = self.query_face(rgb, face_index, name=name)
        result = self.search_face(frame, face)
        if scale < 1.0:  # report the box in the caller's image
            result.query["box"] = [round(float(v) / scale, 1) for v in face.box]
        return result

    def search_face(self, frame: Frame, face: Face) -> LookalikeResult:
        """The pipeline for a face already detected in ``frame`` (it is not re-detected)."""
        # the query's attributes are computed on a second thread while the embedding is computed and searched
        # (onnxruntime releases the GIL: on 2 cores the two models run side by side)
        pool = _pool()
        attrs = pool.submit(self.faces.describe, frame, face, ATTRIBUTE_FIELDS)
        try:
            self.faces.describe(frame, face, ("embedding",))
            if face.embedding is None:
                raise NoFaceError("the query face could not be embedded; use a sharper, more frontal photo")
            hits = self.store.search(face.embedding, self.k, self.flt)
        finally:
            attrs.result()
        if not hits:
            raise StoreError(f"no gallery face matches the filter in {self.store.location}; relax --gender/--age "
                             "or add more photos")
        hits = sorted(hits, key=lambda h: -h.similarity)[: self.top]
        entries = {e.id: e for e in self.store.get([h.id for h in hits])}
        hits = [h for h in hits if h.id in entries]
        cands = [entries[h.id] for h in hits]
        for e in cands:
            self._ensure_attributes(e)
        q = attributes_of(face)
        order = rerank([h.similarity for h in hits], q, [e.attributes for e in cands], self.weights)
        top = [Match(entry=cands[i], similarity=s.similarity, score=s.score, terms=s.terms,
                     contributions=s.contributions, rank_by_identity=i + 1) for i, s in order]
        query = {"box": [round(float(v), 1) for v in face.box], **q}
        return LookalikeResult(query=query, winner=top[0], top=top, candidates=len(hits), weights=self.weights)

    def _ensure_attributes(self, entry: GalleryEntry) -> None:
        """Analyse a candidate's stored thumbnail when its re-rank attributes are missing."""
        if all(entry.attributes.get(a) is not None for a in RERANK_ATTRIBUTES) or not entry.thumbnail:
            return
        rgb = decode_thumbnail(entry.thumbnail)
        faces = self.faces.photo_faces(rgb, fields=())
        if not faces:
            log.info("no face found in the thumbnail of entry %d; its attribute terms stay neutral", entry.id)
            return
        frame, face = Frame(rgb), max(faces, key=lambda f: f.box[2] * f.box[3])
        self.faces.describe(frame, face, ATTRIBUTE_FIELDS)
        attrs = {**attributes_of(face), **{k: v for k, v in entry.attributes.items() if v is not None}}
        entry.attributes = attrs
        if self.cache_attributes:
            self.store.update_attributes(entry.id, attrs)

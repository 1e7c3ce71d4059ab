"""The lookalike feature's view of the face stack: one object that detects,
tracks and describes faces, standing on :class:`faceplay.face.FaceAnalyzer`.

Everything the gallery needs from a face goes through :class:`FaceSource`:
photo analysis (every face, with embedding and attributes), video tracking,
describing one already-detected face (a consumer never re-detects a face it
was handed), and converting a :class:`Face` into the gallery's attribute dict
and thumbnail.
"""

from __future__ import annotations

import io
import logging
from typing import Any, Iterable, Iterator

import numpy as np

from faceplay.face.types import Face
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)

ATTRIBUTE_FIELDS: tuple[str, ...] = ("age", "gender", "expression", "skin_tone", "face_shape", "quality")
THUMB_SIZE = 144  #: thumbnail side in pixels
THUMB_MARGIN = 0.35  #: margin around the face box, as a fraction of its size on each side


class FaceSource:
    """Faces for the gallery (lazy: no model loads until first use).

    ``embedding_model``: ``sface`` (128-D, default) or ``arcface`` (512-D,
    non-commercial, opt-in).
    """

    def __init__(self, embedding_model: str = "sface", *, analyzer=None) -> None:
        self.embedding_model = embedding_model
        self._analyzer = analyzer

    @property
    def analyzer(self):
        if self._analyzer is None:
            from faceplay.face import FaceAnalyzer

            self._analyzer = FaceAnalyzer(embedding_model=self.embedding_model)
        return self._analyzer

    @property
    def dim(self) -> int:
        from faceplay.face.embed import EMBEDDING_MODELS

        return EMBEDDING_MODELS[self.embedding_model].dim

    def photo_faces(self, rgb: np.ndarray, fields: Iterable[str] = ("embedding", *ATTRIBUTE_FIELDS)) -> list[Face]:
        """Every face of a photo, largest first, with ``fields`` computed."""
        frame = Frame(rgb)
        faces = self.analyzer.analyze(frame, fields=())
        self.describe_all(frame, faces, fields)
        return faces

    def describe(self, frame: Frame, face: Face, fields: Iterable[str]) -> Face:
        """Compute ``fields`` for a face already found in ``frame`` (no re-detection)."""
        self.describe_all(frame, [face], fields)
        return face

    def describe_all(self, frame: Frame, faces: list[Face], fields: Iterable[str]) -> None:
        """Compute ``fields`` for faces already found in ``frame``."""
        fields = tuple(fields)
        if not fields or not faces:
            return
        try:
            self.analyzer.complete(frame, faces, fields)
        except ModuleNotFoundError as exc:  # an attribute model not shipped in this build: leave it unknown
            if not getattr(self, "_warned", False):
                log.warning("face attributes unavailable (%s); the re-rank treats them as unknown", exc)
                self._warned = True
            for f in fields:
                try:
                    self.analyzer.complete(frame, faces, (f,))
                except ModuleNotFoundError:
                    pass

    def track(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, list[Face]]]:
        """Faces of each frame with stable ``track_id`` (frames in order, unsmoothed)."""
        tracker = self.analyzer.tracker(smoothing=False)
        try:
            for frame in frames:
                yield frame, tracker.update(frame.rgb, frame.timestamp)
        finally:
            tracker.close()

    def close(self) -> None:
        if self._analyzer is not None and hasattr(self._analyzer, "close"):
            self._analyzer.close()
        self._analyzer = None


def attributes_of(face: Face) -> dict[str, Any]:
    """The gallery's attribute dict of a face (JSON-ready, unknowns left out): :meth:`Face.attributes_dict`."""
    return face.attributes_dict()


def thumbnail(rgb: np.ndarray, box: tuple[float, float, float, float], size: int = THUMB_SIZE, quality: int = 85) -> bytes:
    """A square JPEG of the face with a margin (black where it leaves the image)."""
    import cv2
    from PIL import Image

    x, y, w, h = box
    side = max(w, h) * (1 + 2 * THUMB_MARGIN)
    cx, cy = x + w / 2, y + h / 2
    s = size / max(side, 1.0)
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], dtype=np.float32)
    crop = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_thumbnail(data: bytes) -> np.ndarray:
    """RGB uint8 array of a stored thumbnail."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

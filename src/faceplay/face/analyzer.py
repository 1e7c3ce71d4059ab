"""FaceAnalyzer: image → list of :class:`Face`; video → faces per frame with track ids.

One analysis pass feeds every effect. Work is lazy: landmarks, blendshapes and
pose always come (they are one MediaPipe pass); every other field is computed
only when asked for (``fields=``), and models load on first use.

>>> from faceplay import FaceAnalyzer
>>> with FaceAnalyzer() as fa:
...     faces = fa.analyze("photo.jpg", fields=["age", "gender", "embedding"])
...     for result in fa.track("clip.mp4"):
...         print(result.index, [f.track_id for f in result.faces])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from faceplay.errors import ConfigError, NoFaceError
from faceplay.face.detect import PhotoFaceDetector
from faceplay.face.embed import EmbeddingModel, cosine, embedding_model
from faceplay.face.types import FIELD_PROVIDERS, FIELDS, Face, FrameResult
from faceplay.media.frame import Frame, as_frame  # noqa: F401  (as_frame: part of this module's API)

log = logging.getLogger(__name__)

ImageLike = str | Path | np.ndarray | Frame


@dataclass
class Verification:
    """Result of :meth:`FaceAnalyzer.verify`."""

    similarity: float
    same: bool
    threshold: float
    model: str

    def to_dict(self) -> dict:
        return {"similarity": round(self.similarity, 4), "same": self.same, "threshold": self.threshold, "model": self.model}


def normalize_fields(fields: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate requested optional fields; ``"all"`` means every field, ``"attributes"`` all but the embedding."""
    if fields is None:
        return ()
    if isinstance(fields, str):
        fields = [fields]
    out: list[str] = []
    for f in fields:
        if f == "all":
            out.extend(FIELDS)
        elif f == "attributes":
            out.extend(x for x in FIELDS if x != "embedding")
        elif f in FIELDS:
            out.append(f)
        else:
            raise ConfigError(f"unknown face field {f!r}; choose from {', '.join(FIELDS)}, attributes, all")
    return tuple(dict.fromkeys(out))


class FaceAnalyzer:
    """Detect and describe faces in photos and videos.

    Args:
        max_faces: most faces per image or frame.
        embedding_model: ``"sface"`` (128-D, Apache-2.0, default) or
            ``"arcface"`` (512-D, stronger, non-commercial; opt-in, fetch it
            first with ``faceplay models fetch arcface``).
        precision: ``"fp32"``, ``"int8"`` or ``"auto"`` for the ONNX models.
        threads: onnxruntime threads per model.
        min_score: photo face-detection threshold (YuNet score).
    """

    def __init__(
        self,
        *,
        max_faces: int = 10,
        embedding_model: str = "sface",
        precision: str = "auto",
        threads: int = 1,
        min_score: float = 0.75,
    ) -> None:
        self.max_faces = max_faces
        self.precision = precision
        self.threads = threads
        self._detector = PhotoFaceDetector(max_faces=max_faces, score_threshold=min_score)
        self._embedder: EmbeddingModel = globals()["embedding_model"](embedding_model, precision=precision, threads=threads)
        self._age_gender = None
        self._emotion = None

    # -- photos ------------------------------------------------------------
    def analyze(self, image: ImageLike, fields: Iterable[str] | str | None = ()) -> list[Face]:
        """All faces of one image, largest first, with the requested optional ``fields``.

        ``image`` is a path, an RGB uint8 array or a :class:`Frame`. Returns an
        empty list when there is no face.
        """
        frame = as_frame(image)
        faces = self._detector.detect(frame.rgb)
        self.complete(frame, faces, fields)
        return faces

    def complete(self, frame: Frame, faces: Sequence[Face], fields: Iterable[str] | str | None) -> None:
        """Compute the requested optional fields for faces already found (never re-detects).

        Each field is filled by its provider (:data:`~faceplay.face.types.FIELD_PROVIDERS`);
        a provider that fills several fields (age and gender) runs once per face.
        """
        wanted = normalize_fields(fields)
        if not wanted or not faces:
            return
        for face in faces:
            done: set[str] = set()
            for name in wanted:
                provider = FIELD_PROVIDERS[name]
                if getattr(face, name) is not None or provider in done:
                    continue
                self._provider(provider)(frame, face)
                done.add(provider)

    def _provider(self, name: str):
        """The callable (frame, face) that fills the fields of provider ``name``."""
        if name == "embedding":
            return self._embedder.get
        if name == "age_gender":
            return self._age_gender_model().get
        if name == "emotion":
            return self._emotion_model().get
        if name == "skin_tone":
            from faceplay.face.skin import skin_tone

            return skin_tone
        if name == "face_shape":
            from faceplay.face.shape import face_shape

            return lambda frame, face: face_shape(face)
        if name == "quality":
            from faceplay.face.quality import quality

            return quality
        raise ConfigError(f"no provider {name!r} for a face field")

    def _age_gender_model(self):
        if self._age_gender is None:
            from faceplay.face.attributes import AgeGenderModel

            self._age_gender = AgeGenderModel(precision=self.precision, threads=self.threads)
        return self._age_gender

    def _emotion_model(self):
        if self._emotion is None:
            from faceplay.face.attributes import EmotionModel

            self._emotion = EmotionModel(precision=self.precision, threads=self.threads)
        return self._emotion

    # -- identity ----------------------------------------------------------
    @property
    def embedder(self) -> EmbeddingModel:
        """The identity model in use (its ``threshold`` decides same / different)."""
        return self._embedder

    def embed(self, image: ImageLike, face: Face | None = None) -> np.ndarray:
        """Embedding of ``face`` (or of the largest face) in ``image``; :class:`NoFaceError` if none."""
        frame = as_frame(image)
        if face is None:
            faces = self._detector.detect(frame.rgb)
            if not faces:
                raise NoFaceError(f"no face found in {_describe(image)}; use a photo where the face is clearly visible")
            face = faces[0]
        self.complete(frame, [face], ["embedding"])
        return face.embedding

    def verify(self, a: ImageLike, b: ImageLike) -> Verification:
        """Are the largest faces of two images the same person?"""
        sim = cosine(self.embed(a), self.embed(b))
        thr = self._embedder.threshold
        return Verification(similarity=sim, same=sim >= thr, threshold=thr, model=self._embedder.name)

    # -- video -------------------------------------------------------------
    def tracker(self, *, smoothing: bool = True, min_detection_confidence: float = 0.5):
        """A new streaming :class:`~faceplay.face.track.FaceTracker` (call ``close()`` when done)."""
        from faceplay.face.track import FaceTracker

        return FaceTracker(max_faces=self.max_faces, smoothing=smoothing, min_detection_confidence=min_detection_confidence)

    def track(
        self,
        source: str | Path | Iterable[Frame],
        fields: Iterable[str] | str | None = (),
        *,
        smoothing: bool = True,
        progress: bool = False,
    ) -> Iterator[FrameResult]:
        """Faces per frame of a video file or frame iterable, with stable ``track_id``.

        Every frame is yielded (also those without faces). The MediaPipe
        detector runs only when tracking is lost; landmarks, blendshapes and
        pose are One-Euro smoothed unless ``smoothing=False``.
        """
        from faceplay.media.video import VideoReader

        reader = None
        if isinstance(source, (str, Path)):
            reader = VideoReader(source)
            frames: Iterable[Frame] = reader
            total = reader.frame_count or None
        else:
            frames = source
            total = None
        wanted = normalize_fields(fields)
        tracker = self.tracker(smoothing=smoothing)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="frame", desc="analyse", leave=False)
        try:
            for frame in frames:
                faces = tracker.update(frame.rgb, frame.timestamp)
                self.complete(frame, faces, wanted)
                if bar is not None:
                    bar.update(1)
                yield FrameResult(index=frame.index, timestamp=frame.timestamp, faces=faces)
        finally:
            tracker.close()
            if bar is not None:
                bar.close()
            if reader is not None:
                reader.close()

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        """Release the MediaPipe graphs."""
        self._detector.close()

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _describe(image: ImageLike) -> str:
    return str(image) if isinstance(image, (str, Path)) else "the image"

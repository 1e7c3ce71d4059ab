"""Identity embeddings: SFace (128-D, Apache-2.0, default) and ArcFace
MobileFaceNet (512-D, non-commercial, opt-in). Both L2-normalised; compare
with :func:`cosine`. Each model ships its own verification threshold.
"""

from __future__ import annotations

import numpy as np

from faceplay.errors import ConfigError
from faceplay.face.align import aligned_crop
from faceplay.face.base import Model
from faceplay.face.types import Face
from faceplay.media.frame import Frame


class EmbeddingModel(Model):
    """Base of the identity models: aligned 112 px crop in, unit vector out."""

    dim: int = 0
    #: cosine similarity at or above which two faces are the same person
    threshold: float = 0.0

    def postprocess(self, outputs: list[np.ndarray], face: Face) -> np.ndarray:
        v = outputs[0].reshape(-1).astype(np.float32)
        v /= max(float(np.linalg.norm(v)), 1e-12)
        face.embedding = v
        face.embedding_model = self.name
        return v


class SFaceModel(EmbeddingModel):
    """SFace (OpenCV zoo, Apache-2.0): 128-D. Input RGB 0..255, NCHW."""

    name = "sface"
    dim = 128
    threshold = 0.363  # OpenCV's published cosine threshold for SFace

    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        crop = aligned_crop(frame, face, 112)
        return crop.transpose(2, 0, 1).astype(np.float32, order="C")[None]  # one contiguous copy


class ArcFaceModel(EmbeddingModel):
    """InsightFace w600k MobileFaceNet: 512-D. NON-COMMERCIAL research licence; opt-in."""

    name = "arcface"
    dim = 512
    threshold = 0.30

    def prepare(self) -> None:
        from faceplay import models

        models.model_path(self.model_name(), allow_noncommercial=True)  # clear error if not fetched
        super().prepare()

    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        crop = aligned_crop(frame, face, 112).astype(np.float32)
        return np.ascontiguousarray(((crop - 127.5) / 127.5).transpose(2, 0, 1)[None])


EMBEDDING_MODELS: dict[str, type[EmbeddingModel]] = {"sface": SFaceModel, "arcface": ArcFaceModel}


def embedding_model(name: str = "sface", **kwargs) -> EmbeddingModel:
    """The embedding model called ``name`` (``sface`` or ``arcface``)."""
    try:
        return EMBEDDING_MODELS[name](**kwargs)
    except KeyError:
        raise ConfigError(f"unknown embedding model {name!r}; choose one of {', '.join(EMBEDDING_MODELS)}") from None


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (already unit length: a dot product)."""
    return float(np.dot(np.asarray(a, np.float32), np.asarray(b, np.float32)))

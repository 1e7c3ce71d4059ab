"""Model store: manifest of every model, sha256-checked loading, explicit fetching.

>>> from faceplay import models
>>> models.model_path("face_landmarker")          # verified Path
>>> models.onnx_session("sface")                  # onnxruntime session
"""

from faceplay.models.store import (
    ModelInfo,
    Source,
    available,
    fetch,
    info,
    manifest,
    model_path,
    onnx_session,
    remove,
    sha256_of,
    user_model_dir,
)

__all__ = [
    "ModelInfo",
    "Source",
    "available",
    "fetch",
    "info",
    "manifest",
    "model_path",
    "onnx_session",
    "remove",
    "sha256_of",
    "user_model_dir",
]

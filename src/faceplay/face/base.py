"""The one model contract every face model wrapper honours.

Borrowed from insightface's ``prepare`` / ``get(img, face)`` and kornia's
pre-process / forward / post-process split::

    model = EmotionModel()          # cheap: nothing loaded yet
    model.get(frame, face)          # loads on first use, writes face.expression...

``frame`` is a :class:`faceplay.media.frame.Frame`, which caches colour
conversions and aligned crops so several models share one pre-processing pass.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from faceplay.face.types import Face
from faceplay.media.frame import Frame
from faceplay.models.onnx_model import OnnxModel

log = logging.getLogger(__name__)


class Model(OnnxModel, ABC):
    """Base class of the ONNX face models.

    Subclasses set :attr:`name` (a manifest name) and implement
    :meth:`preprocess` and :meth:`postprocess`. :attr:`precision` chooses the
    file variant: ``"fp32"``, ``"int8"`` or ``"auto"`` (the INT8 variant where
    this machine's self-check found it accurate and faster, else float);
    loading is :class:`~faceplay.models.onnx_model.OnnxModel`'s.
    """

    # -- the three steps -------------------------------------------------
    @abstractmethod
    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        """Frame + face -> the model's input tensor (batch of 1)."""

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Run the network."""
        return self.run(x)

    @abstractmethod
    def postprocess(self, outputs: list[np.ndarray], face: Face) -> Any:
        """Network outputs -> typed fields written into ``face``; returns them too."""

    def get(self, frame: Frame, face: Face) -> Any:
        """Pre-process, run and post-process for one face; writes into ``face``."""
        return self.postprocess(self.forward(self.preprocess(frame, face)), face)


def resolve_variant(name: str, precision: str) -> str:
    """Pick the manifest entry for ``name`` at ``precision`` (fp32 | int8 | auto).

    ``auto`` takes the INT8 variant only where this machine's self-check found it
    accurate and faster (decided once per CPU and cached; see
    :mod:`faceplay.models.precision`); ``int8`` forces the variant.
    """
    from faceplay.models.precision import resolve

    return resolve(name, precision)

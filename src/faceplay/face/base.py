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

from faceplay import models as store
from faceplay.face.types import Face
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)


class Model(ABC):
    """Base class of the ONNX face models.

    Subclasses set :attr:`name` (a manifest name) and implement
    :meth:`preprocess` and :meth:`postprocess`. :attr:`precision` chooses the
    file variant: ``"fp32"``, ``"int8"`` or ``"auto"`` (the INT8 variant where
    this machine's self-check found it accurate and faster, else float).
    """

    name: str = ""

    def __init__(self, *, precision: str = "auto", threads: int = 1) -> None:
        self.precision = precision
        self.threads = threads
        self._session = None
        self._input_name: str | None = None

    # -- loading ---------------------------------------------------------
    def model_name(self) -> str:
        """The manifest entry actually used for the requested precision."""
        return resolve_variant(self.name, self.precision)

    def prepare(self) -> None:
        """Load the model (once)."""
        if self._session is None:
            name = self.model_name()
            self._session = store.onnx_session(name, threads=self.threads)
            self._input_name = self._session.get_inputs()[0].name
            log.debug("loaded %s (%s)", name, self.precision)

    # -- the three steps -------------------------------------------------
    @abstractmethod
    def preprocess(self, frame: Frame, face: Face) -> np.ndarray:
        """Frame + face -> the model's input tensor (batch of 1)."""

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Run the network."""
        self.prepare()
        return self._session.run(None, {self._input_name: x})

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

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
    file variant: ``"fp32"``, ``"int8"`` or ``"auto"`` (the INT8 variant when
    the manifest has one that passed its accuracy check, else float).
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

    ``int8`` needs a variant whose manifest entry says ``kept`` (it passed its
    accuracy check and wins on speed or size; see :mod:`faceplay.quantize`),
    else a :class:`~faceplay.errors.ConfigError` says why; ``auto`` takes that
    variant when its file is present and falls back to float otherwise.
    """
    from faceplay.errors import ConfigError

    if precision not in ("fp32", "int8", "auto"):
        raise ConfigError(f"precision must be fp32, int8 or auto, not {precision!r}")
    if precision == "fp32":
        return name
    variants = [m for m in store.manifest().values() if m.variant_of == name and m.precision == "int8"]
    kept = [m for m in variants if m.input.get("kept", False)]
    if precision == "int8":
        if not variants:
            raise ConfigError(f"model {name!r} has no INT8 variant; run `faceplay models quantize {name}` or use --precision fp32")
        if not kept:
            v = variants[0]
            raise ConfigError(f"model {name!r} has no INT8 variant that passed its checks ({v.name}: {v.input.get('why', 'not kept')}); "
                              "use --precision fp32 or auto")
        return kept[0].name
    kept = [m for m in kept if store.available(m.name)]
    return kept[0].name if kept else name

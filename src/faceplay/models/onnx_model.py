"""The one ONNX model base: a manifest name, a precision, threads, a session loaded on first use.

Face models (:class:`faceplay.face.base.Model`) and person matting
(:mod:`faceplay.matting`) build on it, so every ONNX network in faceplay
loads, picks its precision and reports errors the same way.
"""

from __future__ import annotations

import logging

import numpy as np

from faceplay.models import store

log = logging.getLogger(__name__)


class OnnxModel:
    """An onnxruntime session for the manifest model :attr:`name`, loaded on first use.

    Args:
        precision: ``"fp32"``, ``"int8"`` or ``"auto"`` (the INT8 candidate only
            where this machine's self-check found it accurate and faster; see
            :mod:`faceplay.models.precision`).
        threads: onnxruntime intra-op threads.
    """

    name: str = ""

    def __init__(self, *, precision: str = "auto", threads: int = 1) -> None:
        self.precision = precision
        self.threads = threads
        self._session = None
        self._input_name: str | None = None
        self._output_names: list[str] = []

    def model_name(self) -> str:
        """The manifest entry actually used for the requested precision."""
        from faceplay.models.precision import resolve

        return resolve(self.name, self.precision)

    def prepare(self) -> None:
        """Load the model (once)."""
        if self._session is None:
            name = self.model_name()
            self._session = store.onnx_session(name, threads=self.threads)
            self._input_name = self._session.get_inputs()[0].name
            self._output_names = [o.name for o in self._session.get_outputs()]
            log.debug("loaded %s (%s)", name, self.precision)

    @property
    def session(self):
        """The onnxruntime session (loaded on first access)."""
        self.prepare()
        return self._session

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Outputs of the network for its single input ``x``."""
        self.prepare()
        return self._session.run(None, {self._input_name: x})

    def release(self) -> None:
        """Drop the session (it loads again on next use)."""
        self._session = None

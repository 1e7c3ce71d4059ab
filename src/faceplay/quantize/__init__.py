"""INT8 variants of faceplay's ONNX models that are really faster, and the proof.

``faceplay models quantize [NAME...]`` (or :func:`quantize_models`) builds,
for each model, static INT8 variants calibrated on real face crops
(:mod:`~faceplay.quantize.data`), in QDQ and QOperator formats, per-channel,
optionally selective (sensitive layers kept float) after float-preserving
graph rewrites (:mod:`~faceplay.quantize.graph`); validates each against the
float model on held-out faces with the task's metric
(:mod:`~faceplay.quantize.validate`); times both in the same run
(:mod:`~faceplay.quantize.speed`); and records the winner in the manifest as
``<name>_int8`` with ``input.kept`` true only where it wins
(:func:`~faceplay.quantize.run.decide`). Models then pick their file with
``precision="auto"`` (see :func:`faceplay.face.base.resolve_variant`).

Needs the ``onnx`` package (``pip install 'faceplay[tools]'``) to build
variants; running them needs only onnxruntime.
"""

from __future__ import annotations

__all__ = ["quantize_models", "run_models_bench"]


def quantize_models(*args, **kwargs):
    """See :func:`faceplay.quantize.run.quantize_models`."""
    from faceplay.quantize.run import quantize_models as _q

    return _q(*args, **kwargs)


def run_models_bench(*args, **kwargs):
    """See :func:`faceplay.bench.models.run_models_bench`."""
    from faceplay.bench.models import run_models_bench as _b

    return _b(*args, **kwargs)

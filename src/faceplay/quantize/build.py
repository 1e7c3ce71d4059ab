"""Static INT8 quantization of one float ONNX model with onnxruntime.

Candidates tried per model (all static, calibrated on real face crops,
weights int8 per output channel, activations uint8 — the U8S8 path that has
VNNI kernels on x86):

* ``qdq``: QuantizeLinear/DequantizeLinear pairs (QDQ format), every op type
  onnxruntime can quantize;
* ``qop``: the same in the QOperator format (QLinearConv, QLinearMatMul ...);
* ``qdq-sel`` / ``qop-sel``: selective — the first convolution (it sees raw
  pixels) and the output heads (the last weighted layer before each graph
  output) stay float;
* ``*-pct``: percentile instead of min/max calibration (only when nothing
  else passes).

The float graph is first rewritten where that keeps its outputs identical
(PRelu -> Relu-based ops, Relu6 -> Clip; see :mod:`faceplay.quantize.graph`),
then shape-inferred and optimised by onnxruntime's ``quant_pre_process``.
The activations that produce the graph outputs (Softmax, Sigmoid) always stay
float (:func:`output_activations`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceplay.quantize import graph

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """One quantization recipe."""

    label: str
    fmt: str  #: "qdq" | "qop"
    selective: bool
    calibration: str = "minmax"  #: "minmax" | "percentile"
    reduce_range: bool = False  #: 7-bit weights: u8 x s7 pair sums fit int16, so AVX2's VPMADDUBSW cannot saturate


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("qdq", "qdq", False),
    Candidate("qop", "qop", False),
    Candidate("qdq-sel", "qdq", True),
    Candidate("qop-sel", "qop", True),
)

#: inputs used by percentile calibration: onnxruntime's histogram calibrator holds every
#: activation of every input in memory (SFace: ~70 MB per input).
PERCENTILE_INPUTS = 32

#: tried only when no recipe above passes its accuracy check: percentile
#: calibration (99.999th) clips rare activation outliers that MinMax keeps.
FALLBACK: tuple[Candidate, ...] = (
    Candidate("qdq-pct", "qdq", False, "percentile"),
    Candidate("qdq-pct-rr", "qdq", False, "percentile", reduce_range=True),
    Candidate("qdq-sel-pct", "qdq", True, "percentile"),
    Candidate("qop-sel-pct", "qop", True, "percentile"),
)


class _Reader:
    """CalibrationDataReader over a list of arrays for a one-input model."""

    def __init__(self, input_name: str, arrays: list[np.ndarray]) -> None:
        self._it = iter([{input_name: a} for a in arrays])

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # pragma: no cover - onnxruntime API compatibility
        pass


def float_graph(src: Path, rewrites: tuple[str, ...], check_inputs: list[np.ndarray]):
    """The float model with ``rewrites`` applied; checks the outputs are unchanged on real inputs."""
    import onnx

    original = onnx.load(str(src))
    model = graph.fold_constants(original) if any(n.op_type == "DequantizeLinear" for n in original.graph.node) else original
    for r in rewrites:
        model = {"prelu": graph.rewrite_prelu, "relu6": graph.relu6_to_clip}[r](model)
    if model is not original:
        name = original.graph.input[0].name
        diff = graph.max_abs_diff(original.SerializeToString(), model.SerializeToString(),
                                  [{name: x} for x in check_inputs[:8]])
        log.info("%s: rewrites %s change outputs by at most %.2e", src.name, rewrites, diff)
        if diff > 1e-3:
            raise RuntimeError(f"graph rewrite changed the outputs of {src.name} by {diff}")
    return model


def output_activations(model) -> list[str]:
    """Names of the unweighted nodes that produce graph outputs (Softmax, Sigmoid, ...).

    They stay float in every recipe: quantizing a probability to uint8 steps
    of 1/255 is visible to users (scores no longer sum to 1) and saves nothing.
    """
    outs = {o.name for o in model.graph.output}
    weighted = ("Conv", "MatMul", "Gemm", "ConvTranspose")
    return [n.name for n in model.graph.node if outs & set(n.output) and n.op_type not in weighted and n.name]


def sensitive_nodes(model) -> list[str]:
    """Node names kept float by the selective recipes: the first Conv and each output head."""
    g = model.graph
    weighted = ("Conv", "MatMul", "Gemm", "ConvTranspose")
    names: list[str] = []
    first = next((n for n in g.node if n.op_type in weighted), None)
    if first is not None:
        names.append(first.name)
    producer = {o: n for n in g.node for o in n.output}
    for out in g.output:
        seen: set[str] = set()
        stack = [out.name]
        while stack:
            t = stack.pop()
            n = producer.get(t)
            if n is None or n.name in seen:
                continue
            seen.add(n.name)
            if n.op_type in weighted:
                names.append(n.name)
                continue
            stack.extend(n.input)
    return list(dict.fromkeys(n for n in names if n))


def quantize(float_model, calib: list[np.ndarray], cand: Candidate, out: Path) -> Path:
    """Write the INT8 model of ``cand`` to ``out``; returns ``out``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static as _quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="faceplay-q-") as tmp:
        raw = Path(tmp) / "float.onnx"
        pre = Path(tmp) / "pre.onnx"
        # named nodes: the selective recipes refer to nodes by name
        for i, n in enumerate(float_model.graph.node):
            if not n.name:
                n.name = f"{n.op_type}_{i}"
        onnx.save(float_model, str(raw))
        quant_pre_process(str(raw), str(pre), skip_symbolic_shape=True)
        pre_model = onnx.load(str(pre))
        exclude = list(dict.fromkeys(output_activations(pre_model) + (sensitive_nodes(pre_model) if cand.selective else [])))
        input_name = pre_model.graph.input[0].name
        with contextlib.redirect_stdout(sys.stderr):  # the histogram calibrator prints; keep stdout for --json
            _quantize_static(
                str(pre), str(out), _Reader(input_name, calib),
                quant_format=QuantFormat.QDQ if cand.fmt == "qdq" else QuantFormat.QOperator,
                per_channel=True,
                reduce_range=cand.reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
                calibrate_method=CalibrationMethod.MinMax if cand.calibration == "minmax" else CalibrationMethod.Percentile,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            )
    log.info("%s -> %s (%d nodes float)", cand.label, out.name, len(exclude))
    return out

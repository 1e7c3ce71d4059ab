"""Float-preserving ONNX graph rewrites that make a model quantizable (or runnable fast).

* :func:`fold_constants` evaluates every node whose inputs are all constants
  (e.g. SFace's block-wise ``DequantizeLinear`` + ``Reshape`` of its int8
  weights) once and stores the result as an initializer, so onnxruntime does
  not de-quantize 10 MB of weights on every call.
* :func:`rewrite_prelu` replaces ``PRelu(x, a)`` by ``a*x + (1-a)*Relu(x)``
  (equal in float up to rounding) with the per-channel products as depthwise
  1x1 convolutions. onnxruntime has no quantized PRelu kernel, so a PRelu
  stays float and forces a DequantizeLinear/QuantizeLinear pair around it;
  Conv, Relu and Add all run in int8.
* :func:`relu6_to_clip` turns TF's ``Relu -> Min(6) -> Max(0)`` chains into one
  ``Clip(0, 6)``, which the quantizer folds into the convolution's output range.

Every rewrite is checked by :func:`max_abs_diff` against the original graph on
real inputs before it is used (tools/quantize_models.py and
``faceplay models quantize`` do this).
"""

from __future__ import annotations

import logging
from typing import Iterable

import numpy as np

log = logging.getLogger(__name__)


def _onnx():
    try:
        import onnx  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        from faceplay.errors import ConfigError

        raise ConfigError("quantization needs the `onnx` package: pip install 'faceplay[tools]'") from exc
    return onnx


def _consts(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    out = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and len(n.output) == 1:
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = numpy_helper.to_array(a.t)
    return out


def fold_constants(model):
    """Evaluate all-constant nodes once (in topological order); returns a new ModelProto.

    Uses onnx's reference evaluator per node, so the arithmetic is the ONNX
    definition (e.g. block-wise DequantizeLinear of opset 21).
    """
    onnx = _onnx()
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    consts = _consts(model)
    graph_inputs = {i.name for i in g.input}
    keep = []
    folded = 0
    for n in g.node:
        ins = [i for i in n.input if i]
        if n.op_type != "Constant" and ins and all(i in consts and i not in graph_inputs for i in ins):
            single = helper.make_model(
                helper.make_graph([n], "fold", [], [helper.make_tensor_value_info(o, 0, None) for o in n.output],
                                  initializer=[numpy_helper.from_array(consts[i], i) for i in dict.fromkeys(ins)]),
                opset_imports=model.opset_import,
            )
            values = ReferenceEvaluator(single).run(None, {})
            for name, v in zip(n.output, values):
                consts[name] = np.asarray(v)
            folded += 1
            continue
        keep.append(n)
    used = {i for n in keep for i in n.input} | {o.name for o in g.output}
    del g.node[:]
    g.node.extend(n for n in keep if n.op_type != "Constant" or n.output[0] in used)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items()
                         if k in used and not any(n.op_type == "Constant" and n.output[0] == k for n in g.node))
    keep_inputs = [i for i in g.input if i.name in used]
    del g.input[:]
    g.input.extend(keep_inputs)
    log.info("folded %d constant nodes", folded)
    return model


def rewrite_prelu(model):
    """``PRelu(x, a)`` -> ``a*x + (1-a)*Relu(x)`` with per-channel products as depthwise 1x1 convolutions.

    Equal in float up to rounding (~1e-6). onnxruntime has no int8 PRelu (it
    stays float between a DequantizeLinear/QuantizeLinear pair) and its float
    PRelu with a per-channel slope is slow; depthwise 1x1 ``Conv``, ``Relu`` and
    ``Add`` all run in int8 (QLinearConv, QLinearAdd) and are fast in float too.
    A slope that is not per-channel (C, 1, 1) on an NCHW tensor uses ``Mul`` instead.
    Returns a new ModelProto.
    """
    onnx = _onnx()
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    consts = _consts(model)
    nodes, extra = [], []
    count = 0
    for n in g.node:
        if n.op_type != "PRelu" or n.input[1] not in consts:
            nodes.append(n)
            continue
        x, a_name = n.input
        y = n.output[0]
        p = f"{n.name or y}_prelu"
        a = consts[a_name].astype(np.float32)
        count += 1
        if a.ndim == 3 and a.shape[1:] == (1, 1):
            c = a.shape[0]
            extra += [numpy_helper.from_array(a.reshape(c, 1, 1, 1), p + "_a"),
                      numpy_helper.from_array((1.0 - a).reshape(c, 1, 1, 1), p + "_1ma")]
            nodes += [
                helper.make_node("Conv", [x, p + "_a"], [p + "_lin"], name=p + "_scale_lin", group=c, kernel_shape=[1, 1]),
                helper.make_node("Relu", [x], [p + "_pos"], name=p + "_relu"),
                helper.make_node("Conv", [p + "_pos", p + "_1ma"], [p + "_rect"], name=p + "_scale_rect", group=c, kernel_shape=[1, 1]),
                helper.make_node("Add", [p + "_lin", p + "_rect"], [y], name=p + "_add"),
            ]
        else:
            extra += [numpy_helper.from_array(a, p + "_a"), numpy_helper.from_array(1.0 - a, p + "_1ma")]
            nodes += [
                helper.make_node("Mul", [x, p + "_a"], [p + "_lin"], name=p + "_scale_lin"),
                helper.make_node("Relu", [x], [p + "_pos"], name=p + "_relu"),
                helper.make_node("Mul", [p + "_pos", p + "_1ma"], [p + "_rect"], name=p + "_scale_rect"),
                helper.make_node("Add", [p + "_lin", p + "_rect"], [y], name=p + "_add"),
            ]
    del g.node[:]
    g.node.extend(nodes)
    used = {i for nd in nodes for i in nd.input}
    keep_init = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep_init + extra)
    log.info("rewrote %d PRelu nodes", count)
    return model


def relu6_to_clip(model):
    """``Relu -> Min(x, 6) -> Max(x, 0)`` chains -> ``Clip(x, 0, 6)``; returns a new ModelProto."""
    onnx = _onnx()
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    consts = _consts(model)
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    drop: set[int] = set()
    new_nodes = {}
    lo_name, hi_name = "relu6_clip_lo", "relu6_clip_hi"
    for n in g.node:
        if n.op_type != "Relu":
            continue
        c1 = consumers.get(n.output[0], [])
        if len(c1) != 1 or c1[0].op_type != "Min":
            continue
        mn = c1[0]
        c2 = consumers.get(mn.output[0], [])
        if len(c2) != 1 or c2[0].op_type != "Max":
            continue
        mx = c2[0]
        six = [consts.get(i) for i in mn.input if i != n.output[0]]
        zero = [consts.get(i) for i in mx.input if i != mn.output[0]]
        if len(six) != 1 or six[0] is None or six[0].size != 1 or float(six[0].ravel()[0]) != 6.0:
            continue
        if len(zero) != 1 or zero[0] is None or zero[0].size != 1 or float(zero[0].ravel()[0]) != 0.0:
            continue
        drop |= {id(n), id(mn), id(mx)}
        new_nodes[id(n)] = helper.make_node("Clip", [n.input[0], lo_name, hi_name], [mx.output[0]], name=(n.name or mx.output[0]) + "_relu6")
    if not new_nodes:
        return model
    nodes = []
    for n in g.node:
        if id(n) in new_nodes:
            nodes.append(new_nodes[id(n)])
        elif id(n) not in drop:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend([numpy_helper.from_array(np.array(0.0, np.float32), lo_name),
                          numpy_helper.from_array(np.array(6.0, np.float32), hi_name)])
    log.info("rewrote %d Relu6 chains as Clip", len(new_nodes))
    return model


def count_ops(model) -> dict[str, int]:
    """Node count per op type."""
    out: dict[str, int] = {}
    for n in model.graph.node:
        out[n.op_type] = out.get(n.op_type, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def max_abs_diff(a_bytes: bytes, b_bytes: bytes, feeds: Iterable[dict[str, np.ndarray]]) -> float:
    """Largest absolute difference of all outputs of two ONNX models on ``feeds``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sa = ort.InferenceSession(a_bytes, so, providers=["CPUExecutionProvider"])
    sb = ort.InferenceSession(b_bytes, so, providers=["CPUExecutionProvider"])
    worst = 0.0
    for feed in feeds:
        for ya, yb in zip(sa.run(None, feed), sb.run(None, feed)):
            worst = max(worst, float(np.abs(np.asarray(ya, np.float64) - np.asarray(yb, np.float64)).max()))
    return worst

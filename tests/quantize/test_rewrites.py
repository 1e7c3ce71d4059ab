"""Graph rewrites keep float outputs; the keep rule; the quantize/bench commands on real faces."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the quantization tools need `onnx` (pip install -e '.[tools]')")

from faceplay.models import store  # noqa: E402
from faceplay.quantize import graph  # noqa: E402
from faceplay.quantize.run import decide  # noqa: E402


@pytest.fixture(scope="module")
def face_crop(faces_dir, analyzer):
    """The faceres input of a real face (224 px, 0..255), built by the model's own preprocess."""
    from faceplay.face.attributes import AgeGenderModel
    from faceplay.media import read_image
    from faceplay.media.frame import Frame

    frame = Frame(read_image(faces_dir / "obama_obama.jpg"))
    face = analyzer.analyze(frame)[0]
    return AgeGenderModel(precision="fp32", use_gear=False).preprocess(frame, face)


def test_relu6_to_clip_keeps_faceres_outputs(face_crop):
    m = onnx.load(str(store.model_path("faceres")))
    r = graph.relu6_to_clip(m)
    ops = graph.count_ops(r)
    assert ops.get("Clip", 0) >= 27 and ops.get("Min", 0) == 0 and ops.get("Max", 0) == 0
    name = m.graph.input[0].name
    assert graph.max_abs_diff(m.SerializeToString(), r.SerializeToString(), [{name: face_crop}]) < 1e-5


def test_prelu_rewrite_is_exact_on_a_real_crop(face_crop):
    """A Conv + per-channel PRelu (slopes of both signs, as in SFace) on a real face: same output after the rewrite."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, (16, 3, 3, 3)).astype(np.float32)
    a = np.linspace(-0.8, 1.1, 16, dtype=np.float32).reshape(16, 1, 1)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("PRelu", ["c", "a"], ["y"])],
        "prelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(a, "a")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    r = graph.rewrite_prelu(m)
    assert "PRelu" not in graph.count_ops(r)
    x = np.ascontiguousarray(face_crop.transpose(0, 3, 1, 2))
    assert graph.max_abs_diff(m.SerializeToString(), r.SerializeToString(), [{"x": x}]) < 1e-3


def test_shipped_sface_has_no_runtime_dequantization():
    ops = graph.count_ops(onnx.load(str(store.model_path("sface"))))
    assert "DequantizeLinear" not in ops and "PRelu" not in ops


def test_keep_rule():
    assert decide(True, 2.4, 0.3)[0]
    assert decide(True, 1.0, 0.27)[0]  # equal speed, a quarter of the size
    assert not decide(True, 1.6, 0.5)[0]
    assert not decide(True, 0.8, 0.25)[0]  # smaller but slower
    assert not decide(False, 3.0, 0.25)[0]  # fast but inaccurate
    assert "slower" in decide(True, 0.8, 0.25)[1]


@pytest.mark.slow
def test_quantize_command_builds_validates_and_reports(tmp_path, faces_dir, videos_dir):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    before = store.MANIFEST_PATH.read_bytes()
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "models", "quantize", "emotion", "--out", tmp_path,
                        "--radar", "0", "--frames-per-video", "3", "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    rep = json.loads(p.stdout)["models"][0]
    assert rep["name"] == "emotion" and (tmp_path / rep["file"]).is_file()
    assert rep["int8_size"] < 0.5 * rep["fp32_size"]
    acc = rep["accuracy"]
    assert acc["n"] >= 15 and 0.0 <= acc["expression_agreement"] <= 1.0
    assert {c["recipe"] for c in rep["candidates"]} >= {"qdq", "qop", "qdq-sel", "qop-sel"}
    assert rep["kept"] == decide(acc["passed"], rep["speedup_1t"], rep["size_ratio"])[0]
    assert store.MANIFEST_PATH.read_bytes() == before  # --out leaves the store alone


@pytest.mark.slow
def test_bench_models_json(faces_dir):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "bench", "models", "sface", "gear", "--runs", "5", "--radar", "0", "--json"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(p.stdout)
    assert {r["model"] for r in res["models"]} == {"sface", "gear"}
    assert res["machine"]["model"] and "int8_features" in res["machine"] and res["machine"]["profile"]
    for r in res["models"]:
        for t in ("1", "2"):
            for prec in ("fp32", "int8"):
                lat = r["latency"][t][prec]
                assert 0 < lat["median_ms"] <= lat["p90_ms"]
        assert r["int8_size"] < r["fp32_size"]
        assert r["accuracy"]["n"] > 10
        assert isinstance(r["auto_uses_int8"], bool) and r["why"]

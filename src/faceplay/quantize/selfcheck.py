"""The INT8 self-check: float vs INT8 on bundled real faces, on this CPU.

Each model's inputs are built by its own ``preprocess`` (through
:data:`faceplay.quantize.specs.SPECS`) from the faces of
``faceplay/models/selfcheck/`` (real photos with identities and expressive
talking-head frames, see ``tools/make_selfcheck_faces.py``). Accuracy uses the
keep rule of :mod:`faceplay.quantize.validate` (same verification decisions,
cosine, age MAE, agreement, IoU); speed is float vs INT8 timed interleaved in
the same run (:mod:`faceplay.quantize.speed`), one thread, batch 1.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from faceplay.models.precision import Decision, decide, int8_candidate

log = logging.getLogger(__name__)

FACES_DIR = Path(__file__).resolve().parents[1] / "models" / "selfcheck"


@functools.lru_cache(maxsize=1)
def bundled_faces() -> tuple[tuple, ...]:
    """(identity or None, Frame, Face) of every bundled self-check face (analysed once per process)."""
    from faceplay.errors import ModelMissingError
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media import read_image
    from faceplay.media.frame import Frame

    index = FACES_DIR / "index.json"
    if not index.is_file():
        raise ModelMissingError(f"the INT8 self-check faces are missing ({FACES_DIR}); reinstall faceplay")
    out = []
    with FaceAnalyzer(precision="fp32") as fa:
        for item in json.loads(index.read_text())["faces"]:
            frame = Frame(read_image(FACES_DIR / item["file"]))
            faces = fa.analyze(frame)
            if faces:
                out.append((item["identity"], frame, faces[0]))
    return tuple(out)


def inputs_for(name: str) -> tuple[list[np.ndarray], list[str | None]]:
    """The model's input tensors for the bundled faces, and each input's identity."""
    from faceplay.quantize.specs import spec

    build = spec(name).build
    arrays, ident = [], []
    for who, frame, face in bundled_faces():
        for x in build(frame, [face]):
            arrays.append(x)
            ident.append(who)
    return arrays, ident


def self_check(name: str, *, runs: int = 24) -> Decision:
    """Run float and INT8 ``name`` on the bundled faces on this CPU and decide."""
    from faceplay.machine import cpu_info
    from faceplay.models import store
    from faceplay.quantize import speed, validate
    from faceplay.quantize.specs import spec

    v = int8_candidate(name)
    if v is None:
        raise ValueError(f"{name} has no INT8 candidate")
    cpu = cpu_info()
    sp = spec(name)
    arrays, ident = inputs_for(name)
    f_path, q_path = store.model_path(name), store.model_path(v.name)
    threshold = None
    if sp.task == "embedding":
        from faceplay.face.embed import EMBEDDING_MODELS

        threshold = EMBEDDING_MODELS[name].threshold
    ref = validate.run_all(validate.session(f_path), arrays)
    new = validate.run_all(validate.session(q_path), arrays)
    acc = validate.compare(sp.task, ref, new, identities=ident, threshold=threshold)
    lat = speed.latency({"fp32": f_path, "int8": q_path}, arrays[0], threads=1, runs=runs)
    f_ms, q_ms = lat["fp32"]["median_ms"], lat["int8"]["median_ms"]
    sp1 = f_ms / max(q_ms, 1e-9)
    use, why = decide(cpu.profile, acc.passed, sp1, acc.failures)
    log.info("%s on %s: %s", name, cpu.model, why)
    return Decision(model=name, variant=v.name, use_int8=use, reason=why, cpu=cpu.key, profile=cpu.profile,
                    fp32_ms=round(f_ms, 3), int8_ms=round(q_ms, 3), speedup=round(sp1, 3), accuracy=acc.to_dict())

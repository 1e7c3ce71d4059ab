"""``faceplay models quantize``: build, validate and keep (or reject) INT8 variants.

For each model: calibrate every recipe of :data:`faceplay.quantize.build.CANDIDATES`
on real face crops, check each against the float model on held-out crops
with the task metric (:mod:`faceplay.quantize.validate`), time the ones that
pass against float in the same run (:mod:`faceplay.quantize.speed`), and
write the best as ``<name>_int8.onnx`` with a manifest entry
(``variant_of``, ``precision: "int8"``, ``input.kept`` and the figures).

A variant is **kept** (used by ``precision="auto"``) only when its accuracy
check passes and it wins: at least :data:`MIN_SPEEDUP` x faster than float
at batch 1 on one thread, or — at equal speed (>= :data:`EQUAL_SPEED`) —
at most :data:`MAX_SIZE_RATIO` x the float file size.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError
from faceplay.quantize import build, data, manifest_edit, speed, validate
from faceplay.quantize.specs import SPECS, spec

log = logging.getLogger(__name__)

MIN_SPEEDUP = 2.0
EQUAL_SPEED = 0.95
MAX_SIZE_RATIO = 0.3


@dataclass
class VariantReport:
    """What happened to one model."""

    name: str
    chosen: str | None = None
    kept: bool = False
    reason: str = ""
    fp32_size: int = 0
    int8_size: int = 0
    latency: dict = field(default_factory=dict)  # threads -> {"fp32": {...}, "int8": {...}}
    accuracy: dict = field(default_factory=dict)
    candidates: list[dict] = field(default_factory=list)
    file: str | None = None

    def speedup(self, threads: int = 1) -> float:
        lat = self.latency.get(str(threads)) or self.latency.get(threads)
        if not lat:
            return 0.0
        return lat["fp32"]["median_ms"] / max(lat["int8"]["median_ms"], 1e-9)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "chosen": self.chosen, "kept": self.kept, "reason": self.reason,
            "fp32_size": self.fp32_size, "int8_size": self.int8_size,
            "size_ratio": round(self.int8_size / self.fp32_size, 3) if self.fp32_size and self.int8_size else None,
            "speedup_1t": round(self.speedup(1), 2), "speedup_2t": round(self.speedup(2), 2),
            "latency": self.latency, "accuracy": self.accuracy, "candidates": self.candidates, "file": self.file,
        }


def decide(passed: bool, speedup: float, size_ratio: float) -> tuple[bool, str]:
    """Keep rule of issue 5; returns (kept, human reason)."""
    if not passed:
        return False, "accuracy check failed"
    if speedup >= MIN_SPEEDUP:
        return True, f"{speedup:.2f}x faster, accuracy passes"
    if speedup >= EQUAL_SPEED and size_ratio <= MAX_SIZE_RATIO:
        return True, f"same speed or faster ({speedup:.2f}x) at {size_ratio:.2f}x the size, accuracy passes"
    if speedup < EQUAL_SPEED:
        return False, f"slower than float ({speedup:.2f}x)"
    return False, f"only {speedup:.2f}x faster and {size_ratio:.2f}x the size: no clear win"


def _round(d):
    if isinstance(d, dict):
        return {k: _round(v) for k, v in d.items()}
    if isinstance(d, float):
        return round(d, 4)
    return d


def quantize_one(name: str, cal: list[data.Sample], val: list[data.Sample], out_dir: Path, *,
                 candidates=build.CANDIDATES, runs: int = 30) -> VariantReport:
    """Quantize, validate and time one model; writes ``<out_dir>/<name>_int8.onnx``."""
    from faceplay.models import store

    sp = spec(name)
    src = store.model_path(name)
    calib = data.feeds(cal, name)
    held = data.feeds(val, name)
    if len(calib) < 8 or len(held) < 8:
        raise ConfigError(f"too few real inputs for {name} ({len(calib)} calibration, {len(held)} validation); "
                          "check that ../shared/data is present")
    ident: list[str | None] = [s.identity if s.source.startswith("photo:") else None
                               for s in val for _ in s.inputs.get(name, [])]
    threshold = None
    if sp.task == "embedding":
        from faceplay.face.embed import EMBEDDING_MODELS

        threshold = EMBEDDING_MODELS[name].threshold
    rep = VariantReport(name=name, fp32_size=src.stat().st_size)
    ref = validate.run_all(validate.session(src), held)
    float_model = build.float_graph(src, sp.rewrites, calib)
    x = held[0]
    best = None
    with tempfile.TemporaryDirectory(prefix=f"faceplay-q-{name}-") as tmp:
        for cand in (*candidates, *build.FALLBACK):
            if cand in build.FALLBACK and best is not None and best[0][0]:
                break  # a MinMax recipe already passes
            out = Path(tmp) / f"{cand.label}.onnx"
            try:
                # histogram (percentile) calibration keeps every activation of every input in memory: cap it
                cal_set = calib if cand.calibration == "minmax" else calib[:: max(1, len(calib) // build.PERCENTILE_INPUTS)]
                build.quantize(float_model, cal_set, cand, out)
            except Exception as exc:  # a recipe onnxruntime cannot build is reported, not fatal
                log.warning("%s %s failed: %s", name, cand.label, exc)
                rep.candidates.append({"recipe": cand.label, "error": str(exc)[:200]})
                continue
            acc = validate.compare(sp.task, ref, validate.run_all(validate.session(out), held),
                                   identities=ident, threshold=threshold)
            lat = speed.latency({"fp32": src, "int8": out}, x, threads=1, runs=max(10, runs // 2))
            sp1 = lat["fp32"]["median_ms"] / lat["int8"]["median_ms"]
            row = {"recipe": cand.label, "size": out.stat().st_size, "speedup_1t": round(sp1, 2),
                   "fp32_ms_1t": round(lat["fp32"]["median_ms"], 2), "int8_ms_1t": round(lat["int8"]["median_ms"], 2),
                   "accuracy": acc.to_dict()}
            rep.candidates.append(row)
            log.info("%s %s: %.2fx, %s", name, cand.label, sp1, "pass" if acc.passed else "; ".join(acc.failures))
            # passing first, then those the keep rule would keep (speed or size), then the fastest
            key = (acc.passed, decide(acc.passed, sp1, out.stat().st_size / rep.fp32_size)[0], sp1)
            if best is None or key > best[0]:
                best = (key, cand, out.read_bytes(), acc)
        if best is None:
            rep.reason = "no recipe could be built"
            return rep
        (_, cand, blob, acc) = best
        dest = out_dir / f"{name}_int8.onnx"
        dest.write_bytes(blob)
        rep.chosen, rep.file, rep.int8_size, rep.accuracy = cand.label, dest.name, len(blob), acc.to_dict()
        for threads in (1, 2):
            lat = speed.latency({"fp32": src, "int8": dest}, x, threads=threads, runs=runs)
            rep.latency[str(threads)] = _round(lat)
        rep.kept, rep.reason = decide(acc.passed, rep.speedup(1), rep.int8_size / rep.fp32_size)
        if not acc.passed:
            rep.reason += ": " + "; ".join(acc.failures)
    log.info("%s: %s (%s)", name, "KEPT" if rep.kept else "not kept", rep.reason)
    return rep


def update_manifest(rep: VariantReport, manifest_path: Path | None = None) -> None:
    """Add or replace the ``<name>_int8`` entry of the manifest with the measured figures."""
    from faceplay.machine import cpu_info
    from faceplay.models import store

    path = manifest_path or store.MANIFEST_PATH
    base = manifest_edit.get(path, rep.name)
    blob = (store.BUNDLED_DIR / rep.file) if base["bundled"] else (store.user_model_dir() / rep.file)
    entry = {
        "name": f"{rep.name}_int8",
        "file": rep.file,
        "task": base["task"] + " — INT8 variant",
        "bundled": base["bundled"],
        "sha256": store.sha256_of(blob),
        "size": blob.stat().st_size,
        "licence": base["licence"],
        "commercial_use": base["commercial_use"],
        "source": base["source"],
        "variant_of": rep.name,
        "precision": "int8",
        "input": base.get("input", {}),
        "build": {
            "why": rep.reason,
            "recipe": rep.chosen,
            "speedup_1t": round(rep.speedup(1), 2),
            "speedup_2t": round(rep.speedup(2), 2),
            "size_ratio": round(rep.int8_size / rep.fp32_size, 3),
            "accuracy": {k: v for k, v in rep.accuracy.items() if k not in ("failures",)},
            "measured_on": f"{cpu_info().key} when the file was built; whether `auto` uses it is decided on each "
                           "machine (faceplay models check)",
        },
        "converted_by": "faceplay models quantize (tools/quantize_models.py)",
        "notes": "INT8 candidate: static INT8 (uint8 activations, int8 per-channel weights) calibrated on real face "
                 "crops; `precision=auto` uses it only where this machine's self-check finds it accurate and faster "
                 "(faceplay/models/precision.py); see docs/BENCHMARKS.md",
    }
    manifest_edit.upsert(path, entry, after=rep.name)
    store.manifest.cache_clear()


def quantize_models(names: list[str] | None = None, *, per_video: int = 12, radar: int = 120,
                    write_manifest: bool = True, progress: bool = True, runs: int = 30,
                    out_dir: Path | None = None) -> list[VariantReport]:
    """Quantize ``names`` (default: every quantizable model present); returns one report per model.

    Files go to the model store (bundled folder, or the user folder for
    fetched models) unless ``out_dir`` is given; the manifest is updated only
    when writing to the store and ``write_manifest`` is true.
    """
    from faceplay.models import store

    if not names:
        names = [n for n, s in SPECS.items() if not s.optional or store.available(n)]
    for n in names:
        sp = spec(n)
        if not store.available(n):
            raise ConfigError(f"model {n!r} is not present; run `faceplay models fetch {n}` first" if sp.optional
                              else f"model {n!r} is missing; reinstall faceplay")
    # inputs for every present model (not just ``names``): one cached collection serves later runs too
    builders = {n: s.build for n, s in SPECS.items() if n in names or (not s.optional and store.available(n))}
    cal = data.collect("calibration", builders, per_video=per_video, radar=radar, progress=progress, cache=True)
    val = data.collect("validation", builders, per_video=per_video, radar=radar, progress=progress, cache=True)
    reports = []
    from tqdm import tqdm

    for n in tqdm(names, desc="quantize", unit="model", disable=not progress, leave=False):
        info = store.info(n)
        dest = Path(out_dir) if out_dir else (store.BUNDLED_DIR if info.bundled else store.user_model_dir())
        dest.mkdir(parents=True, exist_ok=True)
        rep = quantize_one(n, cal, val, dest, runs=runs)
        if write_manifest and out_dir is None and rep.file:
            update_manifest(rep)
        reports.append(rep)
    return reports

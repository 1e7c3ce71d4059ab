"""Which precision ``auto`` uses for a model, decided on the machine that runs it.

An INT8 file that is accurate and fast on one CPU need not be on another:
onnxruntime's u8s8 kernels use exact VNNI dot products on CPUs that have them
and ``VPMADDUBSW`` (16-bit saturating sums) on AVX2-only CPUs, and the speed-up
ranges from 0.8x to 4x across models and CPUs. So the repository ships INT8
*candidates* (the manifest records how and where each was built), and this
module decides per machine:

* the CPU's int8 profile (:func:`faceplay.machine.cpu_info`) rules out CPUs with
  no 8-bit dot-product instructions at all (float, no check);
* otherwise a quick self-check (:mod:`faceplay.quantize.selfcheck`) runs both
  files on bundled real faces: INT8 is used only when it passes the keep rule's
  accuracy criteria **and** is at least :data:`MIN_SPEEDUP` x faster than float;
* the decision is cached per CPU, onnxruntime version, file hashes and self-check faces in the
  user cache (``$FACEPLAY_HOME/precision.json``), never in the repository.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from faceplay.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

#: INT8 must be at least this much faster than float (batch 1, one thread) for ``auto`` to use it;
#: the margin keeps timing noise on a shared machine from flipping a decision.
MIN_SPEEDUP = 1.15

PRECISIONS = ("auto", "fp32", "int8")


@dataclass
class Decision:
    """The outcome of one model's self-check on one machine."""

    model: str  #: the float model's manifest name
    variant: str  #: the INT8 candidate's manifest name
    use_int8: bool
    reason: str
    cpu: str = ""  #: :attr:`faceplay.machine.CpuInfo.key`
    profile: str = ""
    fp32_ms: float | None = None
    int8_ms: float | None = None
    speedup: float | None = None
    accuracy: dict = field(default_factory=dict)
    key: str = ""
    checked_at: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def decide(profile: str, accuracy_passed: bool, speedup: float | None, failures: list[str] | tuple = ()) -> tuple[bool, str]:
    """The rule: (use INT8?, why) from the CPU's int8 profile and a self-check's figures.

    Pure, so it can be fed the figures of any CPU (see tests/quantize).
    """
    if profile == "none":
        return False, "this CPU has no 8-bit dot-product instructions (no AVX2, VNNI or ARM dot product)"
    if not accuracy_passed:
        return False, "INT8 is not accurate on this CPU: " + ("; ".join(failures) or "accuracy check failed")
    if speedup is None:
        return False, "INT8 speed not measured"
    if speedup < MIN_SPEEDUP:
        return False, f"INT8 is not faster on this CPU ({speedup:.2f}x float, needs {MIN_SPEEDUP:.2f}x)"
    return True, f"INT8 is accurate and {speedup:.2f}x faster than float on this CPU"


def int8_candidate(name: str):
    """The manifest entry of ``name``'s INT8 candidate, or None."""
    from faceplay.models import store

    for m in store.manifest().values():
        if m.variant_of == name and m.precision == "int8":
            return m
    return None


def cache_path() -> Path:
    """``$FACEPLAY_HOME/precision.json`` (default ``~/.cache/faceplay/precision.json``)."""
    from faceplay.models.store import faceplay_home

    return faceplay_home() / "precision.json"


def decision_key(name: str) -> str:
    """What a cached decision depends on: CPU, onnxruntime version, both files' hashes and the self-check faces."""
    import hashlib

    import onnxruntime

    from faceplay.machine import cpu_info
    from faceplay.models import store

    v = int8_candidate(name)
    index = store.PACKAGE_DIR / "selfcheck" / "index.json"
    faces = hashlib.sha256(index.read_bytes()).hexdigest()[:12] if index.is_file() else "-"
    return " | ".join((cpu_info().key, f"onnxruntime {onnxruntime.__version__}", store.info(name).sha256[:16],
                       v.sha256[:16] if v else "-", f"faces {faces}"))


def _read_cache() -> dict:
    p = cache_path()
    try:
        data = json.loads(p.read_text())
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable precision cache %s (%s); it will be rebuilt", p, exc)
        return {}


def cached(name: str) -> Decision | None:
    """This machine's cached decision for ``name`` (None when never checked or out of date)."""
    raw = _read_cache().get(name)
    if not isinstance(raw, dict) or raw.get("key") != decision_key(name):
        return None
    try:
        return Decision(**raw)
    except TypeError:
        return None


def remember(d: Decision) -> None:
    """Store a decision in the user cache (atomic rename; other models' entries kept)."""
    p = cache_path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        data = _read_cache()
        data[d.model] = d.to_dict()
        fd, tmp = tempfile.mkstemp(prefix=".precision-", suffix=".json", dir=p.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, p)
    except OSError as exc:  # a read-only home still works, it just checks again next time
        log.warning("could not cache the INT8 decision in %s (%s)", p, exc)


def forget() -> None:
    """Drop every cached decision (``faceplay models check --again``)."""
    cache_path().unlink(missing_ok=True)


def machine_decision(name: str, *, recheck: bool = False) -> Decision | None:
    """This machine's decision for ``name`` (None when it has no INT8 candidate).

    Runs the self-check once when nothing is cached, then caches it.
    """
    from faceplay.machine import cpu_info

    v = int8_candidate(name)
    if v is None:
        return None
    d = None if recheck else cached(name)
    if d is not None:
        return d
    cpu = cpu_info()
    if cpu.profile == "none":
        use, why = decide(cpu.profile, True, None)
        d = Decision(model=name, variant=v.name, use_int8=use, reason=why, cpu=cpu.key, profile=cpu.profile)
    else:
        from faceplay.quantize.selfcheck import self_check

        log.info("checking INT8 %s against float on this CPU (once per machine, cached in %s)", name, cache_path())
        d = self_check(name)
    d.key, d.checked_at = decision_key(name), time.time()
    remember(d)
    return d


def resolve(name: str, precision: str) -> str:
    """The manifest entry to load for ``name`` at ``precision`` (``auto`` | ``fp32`` | ``int8``).

    ``fp32`` is the float file; ``int8`` the INT8 candidate (a :class:`ConfigError`
    when there is none; a warning when this CPU's self-check found it inaccurate);
    ``auto`` the INT8 candidate only where this machine's decision says so.
    """
    from faceplay.models import store

    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be fp32, int8 or auto, not {precision!r}")
    if precision == "fp32":
        return name
    v = int8_candidate(name)
    if precision == "int8":
        if v is None:
            raise ConfigError(f"model {name!r} has no INT8 variant; use --precision fp32 or auto")
        d = cached(name)
        if d is not None and not d.use_int8 and not d.accuracy.get("passed", True):
            log.warning("%s: %s; --precision auto would use float", v.name, d.reason)
        return v.name
    if v is None or not store.available(v.name):
        return name
    try:
        d = machine_decision(name)
    except (ModelError, OSError) as exc:  # no self-check possible: float is always correct
        log.warning("could not check INT8 %s on this CPU (%s); using float", name, exc)
        return name
    return v.name if d is not None and d.use_int8 else name

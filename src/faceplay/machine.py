"""What machine this is: CPU model, its int8 instructions, cores and load.

INT8 speed and accuracy depend on the CPU (onnxruntime's u8s8 kernels use
VNNI dot products where the CPU has them and ``VPMADDUBSW`` on AVX2-only
CPUs, which can saturate), so every INT8 decision, benchmark and cache key is
tied to :func:`cpu_info`. Nothing here imports a heavy module.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import asdict, dataclass

#: int8 profiles, best first: what the CPU offers for 8-bit dot products
PROFILES = ("amx", "vnni", "avx2", "arm-dot", "none")

_X86_INT8_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "amx_tile")
_ARM_INT8_FLAGS = ("asimddp", "i8mm", "sve")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as INT8 decisions see it."""

    model: str  #: marketing name, e.g. "AMD EPYC 7B13" or "Intel(R) Xeon(R) ..."
    family: str  #: x86 "family/model" (e.g. "25/17", Zen 4), "" elsewhere: tells apart CPUs a VM names alike
    arch: str  #: platform.machine(), e.g. "x86_64", "aarch64"
    cores: int  #: logical CPUs this process may use
    int8_features: tuple[str, ...]  #: the int8-relevant instruction sets present
    profile: str  #: one of :data:`PROFILES`

    @property
    def key(self) -> str:
        """A stable identifier for caches: model + arch + int8 features (not the core count)."""
        return f"{self.model} {self.family} | {self.arch} | {','.join(self.int8_features) or 'no-int8-dot'}".replace("  ", " ")

    def to_dict(self) -> dict:
        return {**asdict(self), "int8_features": list(self.int8_features)}


def profile_of(features: tuple[str, ...] | set[str]) -> str:
    """The int8 profile of a set of CPU flags (see :data:`PROFILES`).

    ``vnni`` means onnxruntime's u8s8 GEMM has an exact 32-bit dot product
    (AVX-512 VNNI or AVX-VNNI); ``avx2`` means it falls back to ``VPMADDUBSW``,
    whose 16-bit intermediate sums can saturate with full-range weights.
    """
    f = set(features)
    if "amx_int8" in f:
        return "amx"
    if f & {"avx512_vnni", "avx_vnni"}:
        return "vnni"
    if "avx2" in f:
        return "avx2"
    if "asimddp" in f:
        return "arm-dot"
    return "none"


def _cpuinfo_text() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def parse_cpuinfo(text: str) -> tuple[str, str, set[str]]:
    """(model name, "family/model", flags) of the first processor block of a ``/proc/cpuinfo`` text."""
    model, flags, fam, num = "", set(), "", ""
    for line in text.splitlines():
        if ":" not in line:
            if model and flags:
                break
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key == "cpu family" and not fam:
            fam = value.strip()
        elif key == "model" and not num:
            num = value.strip()
    return model, (f"{fam}/{num}" if fam and num else ""), flags


@functools.lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    model, family, flags = parse_cpuinfo(_cpuinfo_text())
    if not model:
        model = platform.processor() or platform.machine() or "unknown CPU"
    feats = tuple(f for f in (*_X86_INT8_FLAGS, *_ARM_INT8_FLAGS) if f in flags)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return CpuInfo(model=model, family=family, arch=platform.machine(), cores=cores, int8_features=feats, profile=profile_of(feats))


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine_summary() -> dict:
    """CPU, int8 features, cores and load, for benchmark reports and ``--json`` outputs."""
    return {**cpu_info().to_dict(), "load_1min": load_average()}

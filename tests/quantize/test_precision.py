"""The precision setting: `auto` takes an INT8 candidate only where this CPU's self-check
found it accurate and faster; the decision is cached per machine, outside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from faceplay.errors import ConfigError
from faceplay.face.base import resolve_variant
from faceplay.machine import cpu_info, parse_cpuinfo, profile_of
from faceplay.models import precision, store

VARIANTS = {m.variant_of: m for m in store.manifest().values() if m.precision == "int8"}

#: /proc/cpuinfo flag lines of the two CPU kinds of these machines (trimmed to what matters)
XEON_VNNI = ("model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\ncpu family\t: 6\nmodel\t\t: 143\n"
             "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma avx512f avx512dq avx512bw avx512vl "
             "avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n\n")
EPYC_ZEN3 = ("model name\t: AMD EPYC 7B13\ncpu family\t: 25\nmodel\t\t: 1\n"
             "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma bmi2 sha_ni vaes vpclmulqdq\n\n")
OLD_SSE = "model name\t: Some CPU\nflags\t\t: fpu sse sse2 ssse3\n\n"

#: (model, accuracy passed, INT8 speed-up at 1 thread) as measured on each CPU kind (docs/BENCHMARKS.md, issue 11)
MEASURED = {
    "vnni": [("sface", True, 1.43), ("faceres", True, 3.2), ("gear", True, 2.4), ("emotion", True, 1.05), ("meet", True, 0.9)],
    "avx2": [("sface", False, 1.4), ("faceres", True, 2.0), ("gear", True, 1.6), ("emotion", True, 1.4), ("meet", True, 0.8)],
}
EXPECTED = {
    "vnni": {"sface": True, "faceres": True, "gear": True, "emotion": False, "meet": False},
    "avx2": {"sface": False, "faceres": True, "gear": True, "emotion": True, "meet": False},
}


def test_cpu_profiles_from_cpuinfo():
    model, fam, flags = parse_cpuinfo(XEON_VNNI)
    assert model.startswith("Intel(R) Xeon") and fam == "6/143" and profile_of(flags) == "amx"
    assert profile_of(flags - {"amx_int8"}) == "vnni"
    model, fam, flags = parse_cpuinfo(EPYC_ZEN3)
    assert model == "AMD EPYC 7B13" and fam == "25/1" and profile_of(flags) == "avx2"
    assert profile_of(parse_cpuinfo(OLD_SSE)[2]) == "none"
    assert profile_of({"asimd", "asimddp"}) == "arm-dot"
    me = cpu_info()
    assert me.profile in ("amx", "vnni", "avx2", "arm-dot", "none") and me.model in me.key


@pytest.mark.parametrize("profile", sorted(MEASURED))
def test_decision_rule_on_the_figures_of_each_cpu(profile):
    for model, passed, speedup in MEASURED[profile]:
        use, why = precision.decide(profile, passed, speedup, [] if passed else ["cosine to float 0.9250 < 0.98"])
        assert use == EXPECTED[profile][model], (profile, model, why)
        assert ("accurate and" in why) if use else ("not" in why)
    use, why = precision.decide("none", True, 3.0)
    assert not use and "no 8-bit dot-product" in why
    assert "cosine" in precision.decide("avx2", False, 2.0, ["cosine to float 0.9250 < 0.98"])[1]


def test_every_candidate_is_present_documented_and_used_at_run_time():
    from faceplay.quantize.specs import SPECS

    assert VARIANTS, "no INT8 candidates in the manifest"
    for base, v in VARIANTS.items():
        assert store.info(base).precision == "fp32"
        store.model_path(v.name)  # present and sha256 matches
        assert v.build.get("recipe") and "measured_on" in v.build, v.name
        assert "kept" not in v.input, "a decision of one CPU must not be baked into the manifest"
        assert SPECS[base].task != "segmentation", "matting has no precision setting: an INT8 file would never run"


def test_auto_follows_this_machines_decision_and_caches_it_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPLAY_HOME", str(tmp_path))
    for base, v in VARIANTS.items():
        assert resolve_variant(base, "fp32") == base
        assert resolve_variant(base, "int8") == v.name
        d = precision.cached(base)
        assert d is None
        chosen = resolve_variant(base, "auto")
        d = precision.cached(base)
        assert d is not None and d.cpu == cpu_info().key and d.key == precision.decision_key(base)
        assert chosen == (v.name if d.use_int8 else base)
        assert d.fp32_ms > 0 and d.int8_ms > 0 and d.accuracy["n"] >= 15
        assert d.use_int8 == (d.accuracy["passed"] and d.speedup >= precision.MIN_SPEEDUP)
    cache = json.loads((tmp_path / "precision.json").read_text())
    assert set(cache) == set(VARIANTS)
    # a cache written on another CPU (or for other files) is not trusted: checked again
    cache["sface"]["key"] = "Other CPU | x86_64 | avx2 | onnxruntime 0 | - | -"
    (tmp_path / "precision.json").write_text(json.dumps(cache))
    assert precision.cached("sface") is None
    assert precision.machine_decision("sface").key == precision.decision_key("sface")


def test_int8_without_a_variant_is_a_clear_error():
    with pytest.raises(ConfigError, match="no INT8 variant.*--precision fp32"):
        resolve_variant("yunet", "int8")
    with pytest.raises(ConfigError, match="fp32, int8 or auto"):
        resolve_variant("sface", "int4")


def test_models_check_prints_the_cpu_and_each_decision():
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "models", "check", "--json"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(p.stdout)
    assert res["cpu"]["model"] == cpu_info().model and res["cpu"]["profile"] == cpu_info().profile
    assert {d["model"] for d in res["models"]} == set(VARIANTS)
    for d in res["models"]:
        assert d["fp32_ms"] > 0 and d["int8_ms"] > 0 and d["reason"]
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "models", "check"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0 and "int8 features" in p.stdout and "auto uses" in p.stdout


def test_cli_int8_without_a_variant_prints_one_line(faces_dir):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "verify", faces_dir / "obama_obama.jpg", faces_dir / "biden_biden.jpg",
                        "--embedding-model", "arcface", "--precision", "int8"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "INT8" in lines[0] and "--precision fp32" in lines[0], p.stderr

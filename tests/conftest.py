"""Shared fixtures: real test data from ../shared/data (skipped cleanly when absent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACEPLAY_SHARED", ROOT.parent / "shared")).resolve()
FACES = SHARED / "data" / "faces"
VIDEOS = SHARED / "data" / "videos"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """../shared/data/faces, or skip."""
    if not FACES.is_dir():
        pytest.skip(f"test photos not found at {FACES} (needs the shared/ folder beside the checkout)")
    return FACES


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    """../shared/data/videos, or skip."""
    if not VIDEOS.is_dir():
        pytest.skip(f"test videos not found at {VIDEOS} (needs the shared/ folder beside the checkout)")
    return VIDEOS


@pytest.fixture(scope="session")
def hamilton(faces_dir: Path) -> Path:
    return faces_dir / "short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def analyzer():
    """One FaceAnalyzer for the whole session (models load once)."""
    from faceplay.face.analyzer import FaceAnalyzer

    fa = FaceAnalyzer()
    yield fa
    fa.close()


#: single-person photos and who is in them
SINGLE = {
    "obama_obama.jpg": "obama", "obama_obama2.jpg": "obama", "obama3.jpg": "obama", "test_obama1.jpg": "obama",
    "obama-240p.jpg": "obama", "obama_partial_face.jpg": "obama",
    "biden_biden.jpg": "biden", "biden_biden2.jpg": "biden",
    "kit_harington_john1.jpeg": "kit", "kit_harington_john2.jpeg": "kit", "test_johnsnow_test1.jpg": "kit",
    "rose_leslie_img1.jpg": "rose", "rose_leslie_img2.jpg": "rose",
    "alex_lacamoire_img1.jpg": "alex", "test_alex_lacamoire1.jpg": "alex",
    "32bit.png": None,
}
GENDER = {"obama": "male", "biden": "male", "kit": "male", "alex": "male", "rose": "female"}


def run_faceplay(*args, env: dict | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``faceplay`` command in a subprocess (as a user would), capturing its output."""
    return subprocess.run([sys.executable, "-m", "faceplay.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def one_line_error(res: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """Assert the command failed with ``code`` and exactly one 'faceplay: error:' line containing ``words``."""
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("faceplay: error:")]
    assert len(errors) == 1, res.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]

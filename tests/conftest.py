"""Shared fixtures: real test data from ../shared/data (skipped cleanly when absent)."""

from __future__ import annotations

import os
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

"""Fixtures of the creator-tool tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def clip(videos_dir):
    """talking_d3.mp4 (calm, with audio) of the shared test data."""
    p = videos_dir / "talking_d3.mp4"
    if not p.is_file():
        pytest.skip(f"{p} not found")
    return p

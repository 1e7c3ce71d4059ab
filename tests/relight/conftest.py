"""Fixtures of the relighting tests."""

from __future__ import annotations

import pytest

from faceplay.relight.relighter import Relighter


@pytest.fixture(scope="module")
def relighter():
    """One photo Relighter per test module (keeps its GL pass and matting model)."""
    r = Relighter()
    yield r
    r.close()

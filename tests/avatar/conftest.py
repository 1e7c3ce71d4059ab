"""Shared fixtures of the avatar tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def renderer():
    from faceplay.render import Renderer

    return Renderer(samples=0)


def marker(rgb):
    """A flat emissive material: renders as a pure, unlit colour (for measuring renders)."""
    from faceplay.render import Material

    return Material(name="marker", base_color=(0, 0, 0, 1), roughness=1.0, emissive=tuple(rgb))


def unlit():
    from faceplay.render import Lighting

    return Lighting(lights=[], environment=None)


def eye_centroids(out, cam, colors=((1, 0, 0), (0, 0, 1))):
    """3D centroids (camera space) of the pixels of each marker colour, from the depth output."""
    c = out.color[..., :3].astype(int)
    res = []
    fy = cam.proj[1, 1] * cam.height / 2.0
    fx = cam.proj[0, 0] * cam.width / 2.0
    for col in colors:
        want = np.array(col) > 0
        m = np.all((c > 100) == want, axis=-1) & (out.color[..., 3] == 255)
        if not m.any():
            res.append((np.full(3, np.nan), 0))
            continue
        ys, xs = np.nonzero(m)
        d = out.depth[ys, xs]
        X = (xs + 0.5 - cam.width / 2) / fx * d
        Y = -(ys + 0.5 - cam.height / 2) / fy * d
        res.append((np.array([X.mean(), Y.mean(), -d.mean()]), int(m.sum())))
    return res

"""Rendering avatars under expressions and head poses, measured on the rendered pixels."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.avatar.model import Avatar
from faceplay.face.pose import matrix_from_euler
from faceplay.render import Camera, Lighting

from .conftest import eye_centroids, marker, unlit

AVATARS = ["toon", "robot", "creature", "bear"]


def paint_eyes(av):
    """Eyeballs as flat red (left) / blue (right) markers, everything else unlit black."""
    for p in av.parts:
        if p.name in ("eyeLeft", "eyeRight"):
            p.material = marker((1, 0, 0) if p.name == "eyeLeft" else (0, 0, 1))
        else:
            p.material = marker((0, 0, 0))


def front(av):
    lo, hi = av.bounds()
    c = (lo + hi) / 2
    return Camera.orbit(200, 200, target=c, distance=float(np.max(hi - lo)) * 3.0, fovy_deg=22)


def box_of(av, cam, part_prefix):
    pts = np.concatenate([p.mesh.positions for p in av.asset.primitives if p.mesh.name.startswith(part_prefix)])
    px = cam.project(pts)
    x0, y0 = np.floor(px[:, :2].min(0)).astype(int)
    x1, y1 = np.ceil(px[:, :2].max(0)).astype(int)
    return x0, y0, x1, y1


@pytest.mark.parametrize("name", AVATARS)
def test_jaw_open_changes_the_mouth_only(renderer, name):
    av = Avatar(name, renderer)
    cam = front(av)
    light = Lighting.studio()
    av.set_weights({})
    closed = renderer.render(av.draw_items(np.eye(4)), cam, light).color.astype(int)
    av.set_weights({"jawOpen": 1.0})
    opened = renderer.render(av.draw_items(np.eye(4)), cam, light).color.astype(int)
    x0, y0, x1, y1 = box_of(av, cam, "lips")
    diff = np.abs(opened - closed)[..., :3].sum(-1)
    mouth = diff[y0 - 5:y1 + 40, x0 - 5:x1 + 5]
    assert (mouth > 60).mean() > 0.15, "opening the jaw should visibly change the mouth region"
    ex0, ey0, ex1, ey1 = box_of(av, cam, "eye")
    assert diff[: max(ey1, 1)].max() < 30, "the upper face must not change when only the jaw opens"


@pytest.mark.parametrize("name", AVATARS)
def test_blink_closes_the_eyelids(renderer, name):
    av = Avatar(name, renderer)
    paint_eyes(av)
    cam = front(av)
    counts = []
    for w in (0.0, 1.0):
        av.set_weights({"eyeBlinkLeft": w, "eyeBlinkRight": w})
        out = renderer.render(av.draw_items(np.eye(4)), cam, unlit(), outputs=("color", "depth"))
        counts.append([n for _, n in eye_centroids(out, cam)])
    (l0, r0), (l1, r1) = counts
    assert l0 > 150 and r0 > 150, "open eyes are visible"
    assert l1 < 0.1 * l0 and r1 < 0.1 * r0, f"blinking hides the eyeballs ({counts})"


def test_one_eye_blink_is_one_sided(renderer):
    av = Avatar("toon", renderer)
    paint_eyes(av)
    cam = front(av)
    av.set_weights({"eyeBlinkLeft": 1.0})
    out = renderer.render(av.draw_items(np.eye(4)), cam, unlit(), outputs=("color", "depth"))
    (cl, nl), (cr, nr) = eye_centroids(out, cam)
    assert nl < 0.1 * nr
    # the person's left eye is on +x (the image's right for a frontal face)
    assert cr[0] < 0


@pytest.mark.parametrize("yaw", [-30.0, 30.0])
@pytest.mark.parametrize("name", ["toon", "robot"])
def test_head_yaw_is_reproduced(renderer, name, yaw):
    """The yaw of the line between the rendered eyeballs, measured from the depth output."""
    av = Avatar(name, renderer)
    paint_eyes(av)
    cam = Camera.for_image(480, 480)
    av.set_weights({})
    model = matrix_from_euler(yaw, 0.0, 0.0, translation=(0.0, 0.0, -70.0))
    out = renderer.render(av.draw_items(model), cam, unlit(), outputs=("color", "depth"))
    (cl, nl), (cr, nr) = eye_centroids(out, cam)
    assert nl > 30 and nr > 30
    v = cl - cr
    measured = np.degrees(np.arctan2(-v[2], v[0]))
    assert abs(measured - yaw) <= 5.0, f"rendered yaw {measured:.1f} for driven yaw {yaw}"

"""The OBS overlay page of `faceplay serve` in headless Chromium with a fake camera playing a real talking head:
transparent everywhere but the avatar, and the avatar moves with the camera."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    from faceplay.web.app import create_app
    from faceplay.web.config import Settings
    from faceplay.web.harness import ServerThread

    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("webdata")))
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(videos_dir, tmp_path_factory):
    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (tools/apt-packages.txt)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
    from faceplay.web.harness import fake_camera_y4m, launch_chromium

    cam = fake_camera_y4m(videos_dir / "talking_d0.mp4", tmp_path_factory.mktemp("cam") / "cam.y4m", seconds=3.0)
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p, cam)
        yield b
        b.close()


def _alpha_shot(page) -> np.ndarray:
    from PIL import Image

    png = page.screenshot(omit_background=True)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _wait_keyed(page, n: int, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    start = page.evaluate("window.faceplayOverlay ? window.faceplayOverlay.keyed : 0")
    while time.monotonic() - t0 < timeout:
        if page.evaluate("window.faceplayOverlay ? window.faceplayOverlay.keyed : 0") >= start + n:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} frames in {timeout} s (page error: {page.inner_text('#error')!r})")


def test_overlay_is_transparent_outside_the_avatar_and_moves(server, browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 640, "height": 480})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url + "/overlay")
        _wait_keyed(page, 8)
        shots = []
        for _ in range(3):
            _wait_keyed(page, 4)
            shots.append(_alpha_shot(page))
            time.sleep(0.7)
    finally:
        ctx.close()
    assert not errors, errors
    from PIL import Image

    for i, s in enumerate(shots):
        Image.fromarray(s).save(tmp_path / f"overlay_{i}.png")
    a = shots[-1][..., 3]
    opaque = a == 255
    clear = a == 0
    assert opaque.mean() > 0.04, f"no avatar drawn ({opaque.mean():.3f} opaque)"
    assert clear.mean() > 0.5, f"the background is not transparent ({clear.mean():.3f} clear)"
    # outside the avatar: everything beyond the (slightly grown) bounding box of the opaque pixels is alpha 0
    ys, xs = np.nonzero(opaque)
    y0, y1, x0, x1 = ys.min() - 12, ys.max() + 12, xs.min() - 12, xs.max() + 12
    outside = np.ones_like(clear)
    outside[max(0, y0):y1 + 1, max(0, x0):x1 + 1] = False
    assert outside.any() and (a[outside] == 0).all()
    # no green left where the avatar is opaque (keyed, not just painted over)
    rgb = shots[-1][..., :3].astype(int)
    green = (rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2])) > 60
    assert (green & opaque).mean() < 0.001
    # the avatar moves with the fake camera: the opaque pixels change between the screenshots
    diffs = [np.abs(shots[k][..., :3].astype(int) - shots[k + 1][..., :3].astype(int)).mean() for k in range(2)]
    masks = [(shots[k][..., 3] == 255) != (shots[k + 1][..., 3] == 255) for k in range(2)]
    assert max(diffs) > 0.5 or max(m.mean() for m in masks) > 0.002, (diffs, [m.mean() for m in masks])

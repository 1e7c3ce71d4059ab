"""Run the app and a real browser against it: used by the web tests and ``faceplay bench web``.

* :class:`ServerThread` serves an app with uvicorn on a free loopback port
  inside the current process and stops it cleanly.
* :func:`fake_camera_y4m` turns a video into the raw ``.y4m`` file Chromium
  plays as a fake webcam (``--use-file-for-fake-video-capture``).
* :func:`launch_chromium` starts Debian's ``/usr/bin/chromium`` through
  Playwright with that fake camera (never a downloaded browser).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError

log = logging.getLogger(__name__)

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread (``with`` starts / stops it)."""

    def __init__(self, app, port: int | None = None, *, lifespan: str = "on") -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                             ws_max_size=16 * 1024 * 1024, timeout_graceful_shutdown=5, lifespan=lifespan)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, name="faceplay-uvicorn", daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web app did not start on {self.url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def fake_camera_y4m(src: str | Path, dst: str | Path, *, width: int = 640, height: int = 480,
                    seconds: float = 4.0, fps: int = 25) -> Path:
    """Write ``seconds`` of ``src`` as a 4:2:0 ``.y4m`` of ``width``x``height`` (letterboxed on grey)."""
    import cv2

    from faceplay.media.video import VideoReader

    dst = Path(dst)
    frames: list[np.ndarray] = []
    with VideoReader(src) as reader:
        step = max(1, round((reader.fps or fps) / fps))
        for i, frame in enumerate(reader):
            if i % step:
                continue
            rgb = frame.rgb
            s = min(width / rgb.shape[1], height / rgb.shape[0])
            w, h = int(round(rgb.shape[1] * s)) // 2 * 2, int(round(rgb.shape[0] * s)) // 2 * 2
            canvas = np.full((height, width, 3), 96, np.uint8)
            x, y = (width - w) // 2, (height - h) // 2
            canvas[y:y + h, x:x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            frames.append(canvas)
            if len(frames) >= seconds * fps:
                break
    if not frames:
        raise ConfigError(f"{src}: no frames to make a fake camera from")
    with dst.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())
    return dst


def chromium_path() -> str:
    """Debian's Chromium (``$FACEPLAY_CHROMIUM`` overrides)."""
    path = os.environ.get("FACEPLAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise ConfigError("Chromium not found; install Debian's chromium package (tools/apt-packages.txt)")
    return path


def launch_chromium(playwright, y4m: str | Path | None = None, *, user_data_dir: str | Path | None = None):
    """A headless Chromium browser (Playwright) whose webcam plays ``y4m``."""
    args = list(CHROMIUM_ARGS)
    if y4m is not None:
        args.append(f"--use-file-for-fake-video-capture={Path(y4m).resolve()}")
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=args)

"""Frames for the creator tools: a video file (PyAV) or a camera (OpenCV), with their frame rate.

A camera that cannot be opened is one :class:`~faceplay.errors.InputError`
naming the device (``/dev/videoN`` on Linux) and what to do.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Iterator

from faceplay.errors import InputError, InputNotFoundError
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)


def camera_device(index: int) -> str:
    """How the OS names camera ``index`` (``/dev/video0`` on Linux)."""
    return f"/dev/video{index}" if sys.platform.startswith("linux") else f"camera {index}"


class CameraSource:
    """Frames of a camera; ``timestamp`` is seconds since the first frame (wall clock)."""

    def __init__(self, index: int, *, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        import cv2

        dev = camera_device(index)
        if sys.platform.startswith("linux") and not os.path.exists(dev):
            raise InputError(f"camera {index}: {dev} does not exist (no camera connected, or no permission to see it); "
                             "connect a camera, pick another --camera N, or give a video file")
        cap = cv2.VideoCapture(index, cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"camera {index}: {dev} could not be opened (busy or not a capture device); "
                             "close other apps using it or pick another --camera N")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap = cap
        self.name = dev
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or fps) or fps
        self.frame_count: int | None = None
        self.realtime = True

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        t0, i = None, 0
        while True:
            ok, bgr = self._cap.read()
            if not ok:
                if i == 0:
                    raise InputError(f"{self.name} opened but gave no frame; check the camera and try again")
                log.warning("%s stopped sending frames", self.name)
                return
            now = time.monotonic()
            t0 = now if t0 is None else t0
            yield Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i, now - t0)
            i += 1

    def close(self) -> None:
        """Release the device."""
        self._cap.release()


class FileSource:
    """Frames of a video file with their presentation timestamps."""

    def __init__(self, path: str | Path) -> None:
        from faceplay.media.video import VideoReader

        p = Path(path)
        if not p.exists():
            raise InputNotFoundError(f"{p}: no such file; check the path")
        self._reader = VideoReader(p)
        self.name = str(p)
        self.fps = float(self._reader.fps)
        self.frame_count = self._reader.frame_count or None
        self.realtime = False

    def __iter__(self) -> Iterator[Frame]:
        return iter(self._reader)

    def close(self) -> None:
        """Close the file."""
        self._reader.close()


def open_source(input: str | Path | None, camera: int | None):
    """A :class:`FileSource` for ``input`` or a :class:`CameraSource` for ``camera`` (exactly one)."""
    if (input is None) == (camera is None):
        raise InputError("give either a video file INPUT or --camera N")
    return CameraSource(camera) if camera is not None else FileSource(input)


class Pacer:
    """Sleeps so frames leave no faster than their timestamps (``--realtime`` on files)."""

    def __init__(self) -> None:
        self._t0: float | None = None

    def wait(self, timestamp: float) -> None:
        """Block until ``timestamp`` seconds after the first call."""
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now - timestamp
        delay = self._t0 + timestamp - now
        if delay > 0:
            time.sleep(delay)

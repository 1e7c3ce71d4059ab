"""Silence the chatter native libraries (MediaPipe/TFLite, OpenCV) write to stderr.

Their C++ loggers bypass Python logging, so the file descriptor is redirected
while graphs are created and first run — unless faceplay logs at DEBUG, where
the messages may help.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_stderr():
    """Redirect fd 2 to /dev/null for the duration (no-op at DEBUG log level)."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    with _lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (e.g. some test runners)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def quiet_opencv() -> None:
    """Only errors from OpenCV's own logger."""
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except Exception:  # noqa: BLE001 - older builds without the utils module
        pass

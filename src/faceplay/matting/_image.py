"""Input normalisation shared by the matting models."""

from __future__ import annotations

import numpy as np

from faceplay.media.frame import Frame, as_frame


def as_rgb(image: Frame | np.ndarray) -> tuple[np.ndarray, Frame | None]:
    """(RGB uint8 array, the Frame if one was given) from a Frame or an image array (see :func:`as_frame`)."""
    if isinstance(image, Frame):
        return image.rgb, image
    return as_frame(np.asarray(image)).rgb, None

"""Shared helpers of the REST API and the live loop: light rigs from request fields, JPEG coding."""

from __future__ import annotations

import re

import cv2
import numpy as np

from faceplay.web.errors import HTTPError

_HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_hex_color(value: str | None) -> tuple[float, float, float]:
    """``#rrggbb`` → linear-ish RGB 0..1 (white when empty); 400 on anything else."""
    if not value:
        return (1.0, 1.0, 1.0)
    m = _HEX_COLOR.match(value.strip())
    if not m:
        raise HTTPError(400, f"color must look like #ffcc88, got {value[:40]!r}")
    h = m.group(1)
    return tuple(int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def build_rig(preset: str | None = None, az: float | None = None, el: float | None = None,
              color: str | None = None, intensity: float | None = None):
    """A relight rig: a preset by name, or (when ``az`` is given) one movable key light plus a soft fill.

    ``az`` -90..90 degrees (negative: from the image's left), ``el`` -60..80
    (positive: from above), ``intensity`` 0..3.
    """
    from faceplay.errors import ConfigError
    from faceplay.relight.lights import Light, Rig, preset as get_preset

    if az is None:
        try:
            return get_preset(preset or "studio")
        except ConfigError as exc:
            raise HTTPError(400, str(exc)) from exc
    for name, v, lo, hi in (("az", az, -90, 90), ("el", el if el is not None else 0.0, -60, 80),
                            ("intensity", intensity if intensity is not None else 1.3, 0, 3)):
        if not (lo <= v <= hi):  # also rejects NaN
            raise HTTPError(400, f"{name} must be between {lo} and {hi}, got {v}")
    key = Light("area", az=float(az), el=float(el or 0.0), color=parse_hex_color(color),
                intensity=float(intensity if intensity is not None else 1.3), size=0.3)
    return Rig(name="custom", lights=(key, Light("ambient", intensity=0.25)),
               description="one movable key light and a soft fill")


def encode_image(rgb: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> bytes:
    """RGB uint8 → JPEG / PNG bytes."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr)
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover
        raise HTTPError(500, "could not encode the image")
    return buf.tobytes()


def decode_jpeg_frame(data: bytes, max_pixels: int) -> np.ndarray:
    """A live frame (JPEG/PNG/WebP bytes) → RGB uint8 through :func:`faceplay.media.read_image`
    (size checked from the header before decoding); ValueError when it is not a usable image."""
    from faceplay.errors import ImageTooLargeError, UnreadableImageError
    from faceplay.media.image import read_image

    try:
        return read_image(data, max_pixels=max_pixels)
    except ImageTooLargeError as exc:
        raise ValueError(f"the frame is over the {max_pixels} pixel limit; send 640x480") from exc
    except UnreadableImageError as exc:
        raise ValueError("the frame is not a decodable JPEG/PNG/WebP image") from exc

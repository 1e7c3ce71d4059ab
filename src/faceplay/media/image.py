"""Image reading and writing.

Reads JPEG, PNG, WebP, BMP, TIFF: EXIF orientation applied, alpha composited
over white, grey and 16-bit images converted to 8-bit RGB. Always returns an
RGB ``uint8`` array of shape (H, W, 3). Refuses images over a pixel limit
*before* decoding them, so a decompression bomb cannot exhaust memory.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceplay.errors import ConfigError, ImageTooLargeError, InputError, InputNotFoundError, UnreadableImageError

log = logging.getLogger(__name__)

#: Default limit on decoded pixels (40 megapixels, e.g. 8000x5000); ``$FACEPLAY_MAX_PIXELS`` overrides it.
MAX_PIXELS = 40_000_000

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}

Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit, with a clearer message


def is_image_path(path: str | Path) -> bool:
    """True when the file name has an image extension."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def pixel_limit() -> int:
    """The pixel limit: ``$FACEPLAY_MAX_PIXELS`` when set (a positive whole number), else :data:`MAX_PIXELS`."""
    raw = os.environ.get("FACEPLAY_MAX_PIXELS", "").strip()
    if not raw:
        return MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        try:
            value = int(float(raw))  # 4e7
        except (ValueError, OverflowError):
            value = 0
    if value <= 0:
        raise ConfigError(f"FACEPLAY_MAX_PIXELS={raw} is not a positive number of pixels; "
                          "set it to e.g. 40000000 (40 MP) or unset it")
    return value


def read_image(source: str | Path | bytes, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file (or bytes) into an RGB uint8 array (H, W, 3).

    Raises :class:`InputNotFoundError` for a missing path,
    :class:`UnreadableImageError` for an empty, truncated or non-image file and
    :class:`ImageTooLargeError` over ``max_pixels`` (default :func:`pixel_limit`).
    """
    limit = pixel_limit() if max_pixels is None else max_pixels
    name = "<bytes>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        name = str(path)
        if not path.exists():
            raise InputNotFoundError(f"{path}: no such file; check the path")
        if path.is_dir():
            raise InputError(f"{path} is a folder, not an image")
        data = path.read_bytes()
    if not data:
        raise UnreadableImageError(f"{name}: the file is empty (0 bytes); give a JPEG, PNG or WebP image")
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > limit:
            raise ImageTooLargeError(
                f"{name}: image is {w}x{h} ({w * h / 1e6:.0f} MP), over the {limit / 1e6:.3g} MP limit; "
                "resize it first (or raise FACEPLAY_MAX_PIXELS)"
            )
        im.load()
        im = ImageOps.exif_transpose(im)
        return _to_rgb8(im)
    except (ImageTooLargeError,):
        raise
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(f"{name}: not an image faceplay can read (JPEG, PNG, WebP, BMP, TIFF)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImageError(f"{name}: the image is damaged or truncated ({exc}); re-export or re-download it") from exc


def _to_rgb8(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        hi = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        g = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        a = rgba[:, :, 3:4] / 255.0
        rgb = rgba[:, :, :3] * a + 255.0 * (1.0 - a)  # composite over white
        return np.ascontiguousarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))
    if mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def write_image(path: str | Path, rgb: np.ndarray, *, quality: int = 92) -> Path:
    """Write an RGB (or RGBA) uint8 array; format from the extension. Atomic (temp + rename)."""
    from faceplay.media.output import atomic_output

    path = Path(path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise InputError(f"{path}: unsupported image extension; use .jpg, .png or .webp")
    im = Image.fromarray(rgb)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}[
        path.suffix.lower()
    ]
    if fmt == "JPEG" and im.mode == "RGBA":
        im = im.convert("RGB")
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_output(path) as tmp:
        im.save(tmp, format=fmt, **kwargs)
    return path

"""Upload safety: size, declared content type, magic bytes, pixel limits, safe names.

Nothing a client sends is used as a path: uploaded files are stored under
names the server makes (uuid + an extension chosen from the sniffed format).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np

from faceplay.web.errors import HTTPError

IMAGE_TYPES = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "bmp": ".bmp"}
VIDEO_TYPES = {"mp4": ".mp4", "webm": ".webm", "avi": ".avi"}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_HEX = re.compile(r"^[0-9a-f]+$")


def sniff(head: bytes) -> str | None:
    """The container format from the first bytes, or None: jpeg, png, webp, bmp, mp4 (also mov), webm, avi."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


def check_content_type(declared: str | None, kind: str, field_name: str) -> None:
    """The part's declared type must be ``image/*`` / ``video/*`` (or unspecified / octet-stream)."""
    ct = (declared or "application/octet-stream").split(";")[0].strip().lower()
    if ct in ("application/octet-stream", ""):
        return
    if not ct.startswith(kind + "/"):
        raise HTTPError(415, f"{field_name}: content type {ct!r} is not an {kind}; send a "
                             + ("JPEG, PNG, WebP or BMP image" if kind == "image" else "MP4, MOV, WebM or AVI video"))


def check_image_bytes(data: bytes, field_name: str = "file") -> str:
    """Magic-byte check of an image upload; returns its format."""
    if not data:
        raise HTTPError(400, f"{field_name}: the upload is empty; send a JPEG, PNG, WebP or BMP image")
    fmt = sniff(data[:32])
    if fmt not in IMAGE_TYPES:
        raise HTTPError(415, f"{field_name}: not a JPEG, PNG, WebP or BMP image (its first bytes say "
                             f"{fmt or 'unknown'}); send a photo")
    return fmt


def check_video_bytes(head: bytes, field_name: str = "file") -> str:
    """Magic-byte check of a video upload; returns its format."""
    if not head:
        raise HTTPError(400, f"{field_name}: the upload is empty; send an MP4, MOV, WebM or AVI video")
    fmt = sniff(head[:32])
    if fmt not in VIDEO_TYPES:
        raise HTTPError(415, f"{field_name}: not an MP4, MOV, WebM or AVI video (its first bytes say "
                             f"{fmt or 'unknown'}); send a video file")
    return fmt


def decode_image(data: bytes, max_pixels: int, field_name: str = "file") -> np.ndarray:
    """Checked bytes → RGB uint8 (EXIF applied); 413 over ``max_pixels``, 422 when truncated/undecodable."""
    from faceplay.errors import ImageTooLargeError, InputError
    from faceplay.media.image import read_image

    check_image_bytes(data, field_name)
    try:
        return read_image(data, max_pixels=max_pixels)
    except ImageTooLargeError as exc:
        raise HTTPError(413, f"{field_name}: {str(exc).replace('<bytes>: ', '')}") from exc
    except InputError as exc:
        raise HTTPError(422, f"{field_name}: {str(exc).replace('<bytes>: ', '')}") from exc


def new_upload_path(directory: Path, fmt: str) -> Path:
    """A fresh server-chosen file name in ``directory`` for a sniffed format."""
    ext = IMAGE_TYPES.get(fmt) or VIDEO_TYPES.get(fmt) or ".bin"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{uuid.uuid4().hex}{ext}"


def display_name(client_name: str | None, fallback: str) -> str:
    """A harmless name for display / stored file names: the base name, safe characters only."""
    if not client_name:
        return fallback
    base = re.split(r"[\\/]", client_name)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or fallback
    return base[:80]


def check_hex_id(value: str, length: int, what: str) -> str:
    """``value`` must be exactly ``length`` lowercase hex digits (job ids, sha256): else 400."""
    if len(value) != length or not _HEX.match(value):
        raise HTTPError(400, f"{what} must be {length} hexadecimal digits, got {value[:80]!r}")
    return value


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved, guaranteed inside ``root`` (else 400)."""
    r = path.resolve()
    if r != root.resolve() and root.resolve() not in r.parents:
        raise HTTPError(400, "that name points outside the app's folders")
    return r

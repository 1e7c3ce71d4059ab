"""Burn captions into a video: Pillow draws the text (a CJK-capable font), PyAV re-encodes H.264 keeping the audio."""

from __future__ import annotations

import bisect
import logging
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError, InputError
from faceplay.speech.captions import Cue

log = logging.getLogger(__name__)

#: Fonts that render Chinese, tried in order (``fonts-wqy-zenhei`` is installed by ./run).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@lru_cache(maxsize=1)
def find_font() -> Path:
    """A font file with Chinese glyphs: ``$FACEPLAY_CAPTION_FONT``, a known path, or fontconfig's choice."""
    env = os.environ.get("FACEPLAY_CAPTION_FONT")
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"FACEPLAY_CAPTION_FONT={env} does not exist; point it to a .ttf/.ttc/.otf file")
        return Path(env)
    for c in FONT_CANDIDATES:
        if Path(c).is_file():
            return Path(c)
    if shutil.which("fc-match"):
        res = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh"], capture_output=True, text=True)
        if res.returncode == 0 and res.stdout and Path(res.stdout).is_file():
            return Path(res.stdout)
    raise ConfigError(
        "no font with Chinese characters found; install one (Debian: apt-get install fonts-wqy-zenhei) "
        "or set FACEPLAY_CAPTION_FONT to a .ttf/.ttc file"
    )


class CaptionRenderer:
    """Renders one cue as an RGBA patch (white text, dark outline) sized for a frame, cached per cue."""

    def __init__(self, width: int, height: int, *, max_chars: int = 28, font_path: Path | None = None) -> None:
        self.width, self.height = width, height
        self.font_path = font_path or find_font()
        # A full line of max_chars half-width units is ~0.55 em per unit wide.
        self.size = max(12, int(min(width * 0.88 / (max_chars * 0.55), height / 14)))
        # Vertical videos keep the bottom ~15% for the app's own buttons.
        self.bottom = int(height * (0.16 if height > width else 0.06))
        self._cache: dict[int, tuple[np.ndarray, int, int]] = {}

    def _font(self, size: int):
        from PIL import ImageFont

        return ImageFont.truetype(str(self.font_path), size)

    def render(self, cue_id: int, lines: list[str]) -> tuple[np.ndarray, int, int]:
        """(RGBA patch, x, y) for the cue, centred near the bottom of the frame."""
        hit = self._cache.get(cue_id)
        if hit is not None:
            return hit
        from PIL import Image, ImageDraw

        size = self.size
        while True:
            font = self._font(size)
            stroke = max(1, size // 12)
            boxes = [font.getbbox(ln, stroke_width=stroke) for ln in lines]
            widest = max((b[2] - b[0] for b in boxes), default=0)
            if widest <= self.width * 0.94 or size <= 10:
                break
            size = int(size * 0.9)
        line_h = int(size * 1.25)
        pw = min(self.width, widest + 2 * stroke + 4)
        ph = line_h * len(lines) + 2 * stroke + 4
        img = Image.new("RGBA", (pw, ph), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        for i, (ln, b) in enumerate(zip(lines, boxes)):
            x = (pw - (b[2] - b[0])) // 2 - b[0]
            draw.text((x, stroke + 2 + i * line_h), ln, font=font, fill=(255, 255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
        patch = np.asarray(img)
        x0 = (self.width - pw) // 2
        y0 = max(0, self.height - self.bottom - ph)
        self._cache[cue_id] = (patch, x0, y0)
        return self._cache[cue_id]


def overlay(rgb: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    """Alpha-blend an RGBA patch onto an RGB frame in place (clipped to the frame)."""
    h = min(patch.shape[0], rgb.shape[0] - y)
    w = min(patch.shape[1], rgb.shape[1] - x)
    if h <= 0 or w <= 0:
        return rgb
    p = patch[:h, :w]
    a = p[..., 3:4].astype(np.uint16)
    region = rgb[y : y + h, x : x + w]
    region[:] = ((p[..., :3].astype(np.uint16) * a + region.astype(np.uint16) * (255 - a) + 127) // 255).astype(np.uint8)
    return rgb


def burn_captions(
    video: str | Path,
    cues: list[Cue],
    output: str | Path,
    *,
    max_chars: int = 28,
    progress: bool = False,
    crf: int = 20,
) -> Path:
    """Write ``output``: ``video`` with ``cues`` drawn on its frames, same frame rate, audio copied.

    Raises :class:`~faceplay.errors.UnreadableVideoError` when ``video`` has no
    video stream (an audio file cannot be burnt into) and
    :class:`~faceplay.errors.InputError` when ``output`` would overwrite the input.
    """
    from faceplay.media.video import VideoReader, VideoWriter

    src, dst = Path(video), Path(output)
    if dst.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise InputError(f"{dst}: burnt-in captions are written as H.264; give an .mp4 output name")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise InputError(f"{dst}: the output would overwrite the input; choose another name")
    starts = [c.start for c in cues]
    with VideoReader(src) as reader:
        renderer = CaptionRenderer(reader.width, reader.height, max_chars=max_chars) if cues else None
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=reader.frame_count or None, unit="frame", desc="burn-in", leave=False, dynamic_ncols=True)
        try:
            with VideoWriter(dst, reader.fps, reader.width, reader.height, audio_from=src if reader.has_audio else None, crf=crf) as writer:
                for frame in reader:
                    t = frame.timestamp
                    i = bisect.bisect_right(starts, t) - 1
                    rgb = frame.rgb
                    if renderer is not None and i >= 0 and t < cues[i].end:
                        patch, x, y = renderer.render(i, cues[i].lines)
                        rgb = overlay(rgb.copy(), patch, x, y)
                    writer.write(rgb)
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    log.info("wrote %s (%d captions)", dst, len(cues))
    return dst

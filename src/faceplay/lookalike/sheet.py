"""Contact sheet of a lookalike result: the query face, the top candidates'
thumbnails with similarity, score and attributes, the winner framed in gold."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceplay.lookalike.faces import decode_thumbnail, thumbnail

TILE = 200
PAD = 12
TEXT_H = 74
GOLD = (255, 196, 0)
GREY = (90, 90, 90)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _attr_line(a: dict) -> str:
    parts = []
    if a.get("gender"):
        parts.append(a["gender"])
    if a.get("age") is not None:
        parts.append(f"{float(a['age']):.0f} y")
    if a.get("expression"):
        parts.append(a["expression"])
    return ", ".join(parts) or "attributes unknown"


def render_sheet(query_rgb: np.ndarray, result, path: str | Path | None = None) -> np.ndarray:
    """Draw the sheet (RGB uint8); write it to ``path`` (JPEG/PNG by suffix) when given."""
    from PIL import Image, ImageDraw

    n = len(result.top)
    w = PAD + (n + 1) * (TILE + PAD)
    h = PAD + 22 + TILE + TEXT_H + PAD
    sheet = Image.new("RGB", (w, h), (24, 24, 28))
    d = ImageDraw.Draw(sheet)
    title, small = _font(16), _font(13)
    tiles = [decode_thumbnail(thumbnail(query_rgb, tuple(result.query["box"]), size=TILE))]
    tiles += [decode_thumbnail(m.entry.thumbnail) if m.entry.thumbnail else np.zeros((TILE, TILE, 3), np.uint8)
              for m in result.top]
    for i, tile in enumerate(tiles):
        x, y = PAD + i * (TILE + PAD), PAD + 22
        img = Image.fromarray(tile).resize((TILE, TILE), Image.LANCZOS)
        sheet.paste(img, (x, y))
        if i == 0:
            d.text((x, PAD), "you", fill=(255, 255, 255), font=title)
            d.text((x, y + TILE + 6), _attr_line(result.query), fill=(230, 230, 230), font=small)
            continue
        m = result.top[i - 1]
        win = m is result.winner
        d.rectangle((x - 4, y - 4, x + TILE + 3, y + TILE + 3), outline=GOLD if win else GREY, width=4 if win else 1)
        d.text((x, PAD), f"#{i}  WINNER" if win else f"#{i}", fill=GOLD if win else (200, 200, 200), font=title)
        src = Path(m.entry.source).name
        if m.entry.timestamp is not None:
            src += f" @{m.entry.timestamp:.1f}s"
        lines = [f"similarity {m.similarity:.3f}  score {m.score:.3f}", _attr_line(m.entry.attributes), src[:30]]
        for j, line in enumerate(lines):
            d.text((x, y + TILE + 6 + j * 18), line, fill=(230, 230, 230), font=small)
    out = np.asarray(sheet)
    if path is not None:
        from faceplay.media import write_image

        write_image(path, out)
    return out

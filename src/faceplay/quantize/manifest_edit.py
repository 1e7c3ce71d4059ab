"""Surgical edits of models/manifest.json: replace or insert one entry, leave every other byte alone."""

from __future__ import annotations

import json
from pathlib import Path


def _entries(text: str) -> list[tuple[int, int, dict]]:
    """(start, end, entry) of every object in the ``models`` array."""
    dec = json.JSONDecoder()
    i = text.index("[", text.index('"models"')) + 1
    out = []
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return out
        obj, end = dec.raw_decode(text, i)
        out.append((i, end, obj))
        i = end


def _dump(entry: dict, indent: str = "    ") -> str:
    return json.dumps(entry, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)


def upsert(path: Path, entry: dict, *, after: str | None = None) -> None:
    """Replace the entry called ``entry["name"]``, or insert it after the entry ``after`` (default: at the end)."""
    text = path.read_text()
    spans = _entries(text)
    for start, end, obj in spans:
        if obj.get("name") == entry["name"]:
            text = text[:start] + _dump(entry) + text[end:]
            break
    else:
        anchor = next((s for s in spans if s[2].get("name") == after), spans[-1])
        end = anchor[1]
        text = text[:end] + ",\n    " + _dump(entry) + text[end:]
    json.loads(text)  # still valid
    path.write_text(text)


def get(path: Path, name: str) -> dict | None:
    """The raw entry called ``name``."""
    return next((obj for _, _, obj in _entries(path.read_text()) if obj.get("name") == name), None)

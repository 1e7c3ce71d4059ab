"""Small shared helpers for the sub-commands: --json output, tables, paths."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Iterable

import click
import numpy as np

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output on stdout.")


def _default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    """Replace NaN/inf by None so the output is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def dumps(obj: Any) -> str:
    """Strict one-line JSON (numpy arrays and dataclasses with ``to_dict`` allowed)."""
    return json.dumps(_clean(json.loads(json.dumps(obj, default=_default))), ensure_ascii=False, allow_nan=False)


def emit_json(obj: Any) -> None:
    """Write one JSON object as a line on stdout."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def table(rows: Iterable[Iterable[Any]], headers: list[str]) -> str:
    """A plain aligned text table."""
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join([line, sep, *body])


def progress_enabled(as_json: bool) -> bool:
    """Progress bars go to stderr, and only when it is a terminal or not in --json mode."""
    return not as_json or sys.stderr.isatty()

"""`faceplay bench NAME`: every benchmark, in this package (figures go to docs/BENCHMARKS.md).

Each benchmark is a module here registered below as ``"name": "module:attribute"``
of a click command, imported only when run, over one harness
(:mod:`faceplay.bench.harness`: stats, interleaved timing, memory, machine, test data). Timings on a shared CPU are
noisy, so every benchmark reports ratios against a baseline measured in the
same run.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

# name -> "module:attribute" of a click command; loaded lazily.
BENCHES: dict[str, str] = {
    "analyze": "faceplay.bench.analyze:analyze",
    "attributes": "faceplay.bench.attributes:attributes",
    "matting": "faceplay.bench.matting:matting",
    "avatar": "faceplay.bench.avatar:avatar",
    "lookalike": "faceplay.bench.lookalike:lookalike",
    "models": "faceplay.bench.models:models_bench",
    "photos": "faceplay.bench.photos:photos",
    "relight": "faceplay.bench.relight:relight",
    "captions": "faceplay.bench.captions:captions",
    "web": "faceplay.bench.web:web",
}


def shared_data() -> Path:
    """See :func:`faceplay.bench.harness.shared_data`."""
    from faceplay.bench.harness import shared_data as _shared

    return _shared()


class _LazyBenches(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(BENCHES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = BENCHES.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyBenches)
def bench() -> None:
    """Speed benchmarks (run `faceplay bench NAME --help`)."""

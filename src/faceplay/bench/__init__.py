"""`faceplay bench NAME`: speed benchmarks of each feature (figures go to docs/BENCHMARKS.md).

Each feature registers its benchmark below as ``"name": "module:attribute"`` of
a click command; it is imported only when run. Timings on a shared CPU are
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
    "avatar": "faceplay.avatar.bench:avatar",
    "lookalike": "faceplay.lookalike.bench:lookalike",
    "models": "faceplay.bench.models:models_bench",
    "photos": "faceplay.bench.photos:photos",
    "relight": "faceplay.relight.bench:relight",
    "captions": "faceplay.speech.bench:captions",
    "web": "faceplay.web.bench:web",
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

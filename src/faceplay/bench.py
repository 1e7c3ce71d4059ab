"""`faceplay bench NAME`: speed benchmarks of each feature (figures go to docs/BENCHMARKS.md).

Each feature registers its benchmark below as ``"name": "module:attribute"`` of
a click command; it is imported only when run. Timings on a shared CPU are
noisy, so every benchmark reports ratios against a baseline measured in the
same run.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command; loaded lazily.
BENCHES: dict[str, str] = {
    "analyze": "faceplay.face.bench:analyze",
    "attributes": "faceplay.face.attributes_bench:attributes",
    "matting": "faceplay.matting.bench:matting",
    "avatar": "faceplay.avatar.bench:avatar",
    "lookalike": "faceplay.lookalike.bench:lookalike",
    "models": "faceplay.quantize.bench:models_bench",
    "relight": "faceplay.relight.bench:relight",
    "captions": "faceplay.speech.bench:captions",
    "web": "faceplay.web.bench:web",
}


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

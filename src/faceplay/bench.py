"""`faceplay bench NAME`: speed benchmarks of each feature (figures go to docs/BENCHMARKS.md).

Each feature registers its benchmark below as ``"name": "module:attribute"`` of
a click command; it is imported only when run. Timings on a shared CPU are
noisy, so every benchmark reports ratios against a baseline measured in the
same run.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import click

# name -> "module:attribute" of a click command; loaded lazily.
BENCHES: dict[str, str] = {
    "analyze": "faceplay.face.bench:analyze",
    "attributes": "faceplay.face.attributes_bench:attributes",
    "matting": "faceplay.matting.bench:matting",
    "avatar": "faceplay.avatar.bench:avatar",
    "lookalike": "faceplay.lookalike.bench:lookalike",
    "models": "faceplay.quantize.bench:models_bench",
    "photos": "faceplay.face.photos_bench:photos",
    "relight": "faceplay.relight.bench:relight",
    "captions": "faceplay.speech.bench:captions",
    "web": "faceplay.web.bench:web",
}


def shared_data() -> Path:
    """The real test photos and videos: ``$FACEPLAY_SHARED/data``, else ``../shared/data`` beside
    the checkout (or beside the current folder); a :class:`ConfigError` says how to point to them."""
    from faceplay.errors import ConfigError

    env = os.environ.get("FACEPLAY_SHARED")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[3] / "shared", Path.cwd().parent / "shared",
                                          Path.cwd() / "shared"]
    for c in candidates:
        if (c / "data").is_dir():
            return (c / "data").resolve()
    raise ConfigError(f"the benchmark data folder was not found ({', '.join(str(c / 'data') for c in candidates)}); "
                      "set FACEPLAY_SHARED to the folder that holds data/faces and data/videos")


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

"""The ``faceplay`` command: a thin shell over the public API.

Sub-commands live next to the feature they expose (``faceplay/<feature>/cli.py``)
and are imported only when invoked, so ``faceplay --help`` stays instant and no
model loads at import. Every command has ``--help`` and ``--json``; every
:class:`~faceplay.errors.FaceplayError` becomes one line on stderr and a
non-zero exit code.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path

import click

from faceplay.errors import ConfigError, FaceplayError

# name -> "module:attribute" of a click command; loaded lazily.
COMMANDS: dict[str, str] = {
    "analyze": "faceplay.face.cli:analyze",
    "verify": "faceplay.face.cli:verify",
    "models": "faceplay.models.cli:models",
    "bench": "faceplay.bench:bench",
    "avatar": "faceplay.avatar.cli:avatar",
    "relight": "faceplay.relight.cli:relight",
    "gallery": "faceplay.lookalike.cli:gallery",
    "lookalike": "faceplay.lookalike.cli:lookalike",
    "captions": "faceplay.speech.cli:captions",
    "serve": "faceplay.web.cli:serve",
    "track": "faceplay.creator.cli:track",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _module_exists(target))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


def _module_exists(target: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(target.split(":")[0]) is not None
    except ModuleNotFoundError:
        return False


def setup_logging(verbose: int) -> None:
    """``-v`` shows info, ``-vv`` debug; default warnings only."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(level)
    if verbose <= 1:
        # Quiet TensorFlow Lite / absl chatter from mediapipe.
        import os

        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def check_environment() -> None:
    """Refuse ``FACEPLAY_*`` settings that cannot work, as one line before any command starts.

    ``$FACEPLAY_HOME`` must be (or be creatable as) a folder; ``$FACEPLAY_MAX_PIXELS``
    a positive number (:func:`faceplay.media.image.pixel_limit`, also checked wherever images are read).
    """
    if os.environ.get("FACEPLAY_MAX_PIXELS"):
        from faceplay.media.image import pixel_limit

        pixel_limit()
    home = os.environ.get("FACEPLAY_HOME")
    if not home:
        return
    for p in (Path(home), *Path(home).parents):
        if p.exists():
            if not p.is_dir():
                raise ConfigError(f"FACEPLAY_HOME={home}: {p} is a file, not a folder; point FACEPLAY_HOME to a "
                                  "folder faceplay may write models and caches to (or unset it)")
            return


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="faceplay")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """faceplay: AI face effects, offline, on a CPU.

    Analyse faces, drive cartoon avatars, relight portraits, find lookalikes
    and caption videos. Run `faceplay COMMAND --help` for each command.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    setup_logging(verbose)
    if not ctx.resilient_parsing:
        check_environment()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; turns errors into one-line messages."""
    try:
        # non-standalone click returns the code of a `raise click.exceptions.Exit(n)` instead of exiting
        rc = cli.main(args=argv, prog_name="faceplay", standalone_mode=False)
        if isinstance(rc, int) and not isinstance(rc, bool) and rc != 0:
            sys.exit(rc)
    except FaceplayError as exc:
        click.echo(f"faceplay: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("faceplay: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"faceplay: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("faceplay: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # last resort: never show a raw traceback unless asked
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        click.echo(f"faceplay: internal error: {type(exc).__name__}: {exc} (run with -vv for details, and please report it)", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()

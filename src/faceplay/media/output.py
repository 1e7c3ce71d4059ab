"""Safe output files: an output never overwrites an input, and appears only whole.

Every command that writes a file goes through this module:

* :func:`check_output` refuses (``ConfigError``, one line, before any work)
  an output path that is one of the command's inputs: same resolved path, or
  the same file through a symlink or a hard link (``os.path.samefile``).
* :func:`atomic_output` hands out a hidden temporary file in the output's
  folder (same suffix, so format-by-extension writers still work) and renames
  it into place only when the block succeeds; on an error or a kill the
  previous file under that name is untouched and the temporary file is
  removed (or left as an obvious ``.name.*.part`` file after ``kill -9``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

from faceplay.errors import ConfigError

__all__ = ["AtomicFile", "atomic_output", "check_output", "same_file", "temp_path"]


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (resolved path, symlink or hard link)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


def check_output(output: str | os.PathLike | None, *inputs: str | os.PathLike | None,
                 option: str = "-o") -> Path | None:
    """Refuse an ``output`` that would overwrite one of ``inputs``; returns ``output`` as a Path.

    ``None`` entries are ignored, so optional inputs can be passed as they are.
    Raises :class:`~faceplay.errors.ConfigError` (exit code 2) with what to do.
    """
    if output is None:
        return None
    out = Path(output)
    for inp in inputs:
        if inp is not None and same_file(out, inp):
            raise ConfigError(f"{option} {out} is the input file {inp}; choose another output name "
                              "(faceplay never overwrites its input)")
    return out


def temp_path(path: str | os.PathLike) -> Path:
    """A unique hidden temporary name beside ``path`` that keeps its suffix (``.out.1a2b3c.part.jpg``)."""
    p = Path(path)
    return p.with_name(f".{p.stem}.{os.getpid()}-{secrets.token_hex(3)}.part{p.suffix}")


class AtomicFile:
    """A temporary file beside ``path`` that becomes ``path`` on :meth:`commit` (for writers that are not blocks).

    The folder is created when missing; :meth:`discard` deletes the temporary
    file and leaves ``path`` as it was.
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        if self.path.is_dir():
            raise ConfigError(f"{self.path} is a folder; give a file name for the output")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the output folder {self.path.parent} ({exc.strerror}); "
                              "choose another output path") from None
        self.tmp = temp_path(self.path)

    def commit(self) -> Path:
        """Flush the temporary file to disk and rename it to the final name; returns the final path."""
        try:
            if self.fsync and self.tmp.is_file():
                fd = os.open(self.tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.discard()
            raise ConfigError(f"cannot write {self.path} ({exc.strerror}); choose another output path") from None
        return self.path

    def discard(self) -> None:
        """Delete the temporary file (the final name is untouched)."""
        with contextlib.suppress(OSError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, fsync: bool = True) -> Iterator[Path]:
    """Write ``path`` atomically: yields a temporary path in the same folder, renamed into place on success.

    If the block raises, the temporary file is deleted and ``path`` keeps its
    previous content (if any).
    """
    f = AtomicFile(path, fsync=fsync)
    try:
        yield f.tmp
    except BaseException:
        f.discard()
        raise
    f.commit()

"""SQLite failures of a folder gallery as clear errors, and the gallery's writer lock.

* :func:`guard_sqlite` wraps every public method of a store class so that a
  ``sqlite3.DatabaseError`` met while reading or writing (a damaged page is
  often found only when a query reaches it, long after the file opened)
  becomes one :class:`~faceplay.errors.StoreError` naming the repair command,
  and a locked database says to wait for the other writer.
* :func:`writer_lock` serialises whole ``gallery add`` / ``gallery check
  --repair`` runs on one folder (an advisory ``flock`` on ``gallery.lock``),
  so a second run waits and then finds the files already added.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from faceplay.errors import StoreError

log = logging.getLogger(__name__)

LOCK_FILE = "gallery.lock"


def damaged_error(folder: str | os.PathLike, exc: BaseException) -> StoreError:
    """The one message for a gallery database SQLite cannot read: what happened and the command that repairs it."""
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
        return StoreError(f"the gallery {folder} is busy (another faceplay process is writing to it); "
                          "try again when it has finished")
    return StoreError(f"the gallery database {Path(folder) / 'gallery.sqlite'} is damaged ({exc}); run "
                      f"`faceplay gallery check --db {folder} --repair` to keep every readable file "
                      "(the damaged file is kept beside it)")


def guard_sqlite(cls: type) -> type:
    """Class decorator: public methods turn ``sqlite3.DatabaseError`` into :func:`damaged_error` (needs ``self.folder``)."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or not callable(fn):
            continue
        setattr(cls, name, _guarded(fn))
    return cls


def _guarded(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise damaged_error(self.folder, exc) from exc

    return wrapper


@contextlib.contextmanager
def writer_lock(folder: str | os.PathLike, *, wait: bool = True) -> Iterator[None]:
    """Hold the folder gallery's writer lock for a whole run (waits for another holder, or fails when ``wait`` is false)."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise StoreError(f"another faceplay process is writing to the gallery {folder}; "
                                 "try again when it has finished") from None
            log.warning("another faceplay process is writing to the gallery %s; waiting for it to finish", folder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock

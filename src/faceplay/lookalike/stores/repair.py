"""``faceplay gallery check [--repair]``: find and repair a damaged folder gallery.

:func:`check_gallery` runs SQLite's ``integrity_check`` and the gallery's own
invariants (every face belongs to an ingested file, every file holds the
number of faces it records, every embedding has the gallery's dimension).

:func:`repair_gallery` keeps every file it can read *whole*: rows are read
one by one (a damaged page loses only the rows on it), a file is kept only
when its record and all of its faces were read, and the result is written to
a new database that replaces the old one atomically. The damaged database is
kept as ``gallery.sqlite.damaged-<time>``; the FAISS index cache is dropped
(it is rebuilt on the next search). Files that were dropped are listed, so
``faceplay gallery add`` can ingest them again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from faceplay.errors import StoreError
from faceplay.lookalike.stores.embedded import _SCHEMA, DB_FILE, INDEX_FILE, INDEX_META
from faceplay.lookalike.stores.sqlite_guard import writer_lock

log = logging.getLogger(__name__)

_FACE_COLS = "seq, id, file_hash, source, timestamp, gender, age, expression, meta, embedding, thumbnail"
_FILE_COLS = "hash, path, kind, n_faces, added"


def _folder(db: str | os.PathLike) -> Path:
    folder = Path(db)
    if not (folder / DB_FILE).is_file():
        raise StoreError(f"no folder gallery at {folder} (gallery check works on folder galleries; "
                         "Milvus keeps its own consistency)")
    return folder


def check_gallery(db: str | os.PathLike) -> dict[str, Any]:
    """Check a folder gallery; returns ``{"ok": bool, "problems": [...], "files": n, "faces": n}`` (never raises on damage)."""
    folder = _folder(db)
    problems: list[str] = []
    files = faces = 0
    try:
        con = sqlite3.connect(f"file:{folder / DB_FILE}?mode=ro", uri=True, timeout=30)
        try:
            problems += [r[0] for r in con.execute("PRAGMA integrity_check(20)") if r[0] != "ok"]
            if not problems:
                meta = dict(con.execute("SELECT key, value FROM meta"))
                dim = int(meta.get("dim", 0))
                recorded = dict(con.execute("SELECT hash, n_faces FROM files"))
                counted = dict(con.execute("SELECT file_hash, COUNT(*) FROM faces GROUP BY file_hash"))
                files, faces = len(recorded), sum(counted.values())
                orphans = sum(n for h, n in counted.items() if h not in recorded)
                short = [h for h, n in recorded.items() if counted.get(h, 0) != n]
                bad_dim = con.execute("SELECT COUNT(*) FROM faces WHERE length(embedding) != ?", (4 * dim,)).fetchone()[0]
                if not dim and faces:
                    problems.append("the gallery records no embedding dimension")
                if orphans:
                    problems.append(f"{orphans} faces belong to no ingested file")
                if short:
                    problems.append(f"{len(short)} files do not hold the number of faces they record")
                if bad_dim:
                    problems.append(f"{bad_dim} embeddings do not have {dim} dimensions")
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        problems.append(str(exc))
    return {"location": str(folder), "ok": not problems, "problems": problems, "files": files, "faces": faces}


def _partial(con: sqlite3.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of a query up to the first damaged page (a scan that breaks keeps what it read)."""
    out: list[tuple] = []
    try:
        for row in con.execute(sql, params):
            out.append(row)
    except sqlite3.DatabaseError:
        pass
    return out


def _read_rows(con: sqlite3.Connection, table: str, cols: str, key: str) -> tuple[list[tuple], int]:
    """Every readable row of ``table``: one scan, or row by row when the scan hits a damaged page.

    The row keys come from every source that may still be intact: the table's
    largest key, ``sqlite_sequence`` and a scan of each of its indexes (an
    index holds the keys of its rows, so it lists rows on damaged table pages).
    """
    try:
        return con.execute(f"SELECT {cols} FROM {table}").fetchall(), 0
    except sqlite3.DatabaseError:
        pass
    keys: set[int] = set()
    top = [r[0] for r in _partial(con, f"SELECT MAX({key}) FROM {table}") if r[0]]
    top += [r[0] for r in _partial(con, "SELECT seq FROM sqlite_sequence WHERE name=?", (table,)) if r[0]]
    keys.update(range(1, int(max(top, default=0)) + 1))
    for (idx,) in _partial(con, "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?", (table,)):
        keys.update(r[0] for r in _partial(con, f'SELECT {key} FROM {table} INDEXED BY "{idx}"'))
    rows, lost = [], 0
    for k in sorted(keys):
        got = _partial(con, f"SELECT {cols} FROM {table} WHERE {key}=?", (k,))
        rows += got
        lost += not got
    return rows, lost


def _salvage(path: Path) -> tuple[dict[str, str], list[tuple], list[tuple]]:
    """(meta, files, faces) rows that can still be read from a damaged database."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        try:
            meta = dict(con.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError:
            meta = {}
        files, _ = _read_rows(con, "files", _FILE_COLS, "rowid")
        faces, lost = _read_rows(con, "faces", _FACE_COLS, "seq")
        if lost:
            log.info("%d face rows could not be read", lost)
        return meta, files, faces
    except sqlite3.DatabaseError:
        return {}, [], []
    finally:
        con.close()


def _whole_files(meta: dict[str, str], files: list[tuple], faces: list[tuple]) -> tuple[int, list[tuple], list[tuple], list[tuple]]:
    """(dim, kept files, their faces, dropped files): only files whose record and every face were read intact."""
    sizes = Counter(len(r[9]) for r in faces if isinstance(r[9], bytes))
    dim = int(meta.get("dim") or 0) or (sizes.most_common(1)[0][0] // 4 if sizes else 0)
    by_file: dict[str, list[tuple]] = defaultdict(list)
    for r in faces:
        try:
            json.loads(r[8])
            ok = isinstance(r[9], bytes) and len(r[9]) == 4 * dim and isinstance(r[10], bytes)
        except (TypeError, ValueError):
            ok = False
        if ok:
            by_file[r[2]].append(r)
    kept, kept_faces, dropped = [], [], []
    for f in files:
        rows = by_file.get(f[0], [])
        if len(rows) == f[3] and len({r[1] for r in rows}) == len(rows):
            kept.append(f)
            kept_faces += rows
        else:
            dropped.append(f)
    return dim, kept, kept_faces, dropped


def repair_gallery(db: str | os.PathLike) -> dict[str, Any]:
    """Rebuild a damaged folder gallery from every whole file still readable (see the module docstring).

    Returns a report: files and faces kept, the dropped files' paths, where
    the damaged database was kept. Holds the gallery's writer lock.
    """
    folder = _folder(db)
    with writer_lock(folder, wait=False):
        before = check_gallery(folder)
        if before["ok"]:
            return {**before, "repaired": False, "kept_files": before["files"], "kept_faces": before["faces"],
                    "dropped_files": [], "damaged_copy": None}
        meta, files, faces = _salvage(folder / DB_FILE)
        dim, kept, kept_faces, dropped = _whole_files(meta, files, faces)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        work = folder / f".repair-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            new = sqlite3.connect(str(work / DB_FILE), isolation_level=None)
            try:
                new.executescript(_SCHEMA)
                new.execute("BEGIN")
                if dim:
                    model = meta.get("embedding_model") or {128: "sface", 512: "arcface"}.get(dim, "")
                    new.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("dim", str(dim)), ("embedding_model", model),
                        ("generation", str(int(meta.get("generation", "0") or 0) + 1))])
                new.executemany(f"INSERT INTO files ({_FILE_COLS}) VALUES (?,?,?,?,?)", kept)
                new.executemany(f"INSERT INTO faces ({_FACE_COLS.replace('seq, ', '')}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                [r[1:] for r in sorted(kept_faces)])
                new.execute("COMMIT")
            finally:
                new.close()
            damaged = folder / f"{DB_FILE}.damaged-{stamp}"
            for suffix in ("", "-wal", "-shm"):  # the old WAL belongs to the old file: move it with it
                if (folder / (DB_FILE + suffix)).exists():
                    os.replace(folder / (DB_FILE + suffix), folder / (damaged.name + suffix))
            os.replace(work / DB_FILE, folder / DB_FILE)
            for cache in (INDEX_FILE, INDEX_META):  # derived data: rebuilt on the next search
                (folder / cache).unlink(missing_ok=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("repaired %s: kept %d files, dropped %d", folder, len(kept), len(dropped))
    return {"location": str(folder), "ok": True, "repaired": True, "problems": before["problems"],
            "kept_files": len(kept), "kept_faces": len(kept_faces),
            "dropped_files": [f[1] for f in dropped], "damaged_copy": str(damaged)}

"""The embedded gallery: SQLite (source of truth) + a FAISS index (a cache) in one folder.

Layout of the ``--db`` folder::

    gallery.sqlite   WAL-mode SQLite: files, faces (embedding, metadata, thumbnail), meta
    index.faiss      FAISS index over faces.embedding (ids = entry ids), written atomically
    index.json       which SQLite state the index file covers: generation + last row seq

Consistency on a kill: a file's rows and its ``files`` record are committed
in one SQLite transaction, so the database only ever holds whole files. The
index is derived data: on open it is loaded when its ``generation`` matches
the database's (bumped by every deletion) and then rows added after its
``seq`` watermark are appended; otherwise it is rebuilt from SQLite. A crash
between a commit and the index save therefore loses nothing.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from faceplay.errors import ConfigError, StoreError
from faceplay.lookalike.schema import FileRecord, Filter, GalleryEntry, Hit, gender_code
from faceplay.lookalike.stores import faiss_index
from faceplay.lookalike.stores.base import GalleryStore, exact_topk, source_patterns, use_exact
from faceplay.lookalike.stores.sqlite_guard import damaged_error, guard_sqlite, writer_lock

log = logging.getLogger(__name__)

DB_FILE = "gallery.sqlite"
INDEX_FILE = "index.faiss"
INDEX_META = "index.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    hash TEXT PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, n_faces INTEGER NOT NULL, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id INTEGER UNIQUE NOT NULL,
    file_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    timestamp REAL,
    gender INTEGER NOT NULL DEFAULT 0,
    age REAL,
    expression TEXT,
    meta TEXT NOT NULL,
    embedding BLOB NOT NULL,
    thumbnail BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS faces_file ON faces(file_hash);
CREATE INDEX IF NOT EXISTS faces_source ON faces(source);
CREATE INDEX IF NOT EXISTS faces_gender_age ON faces(gender, age);
"""

_COLS = "id, file_hash, source, timestamp, meta, embedding, thumbnail"


def _row_to_entry(row: tuple) -> GalleryEntry:
    eid, fh, source, ts, meta, emb, thumb = row
    m = json.loads(meta)
    return GalleryEntry(
        id=int(eid), embedding=np.frombuffer(emb, dtype=np.float32).copy(), file_hash=fh, source=source,
        timestamp=ts, box=tuple(m.get("box", (0, 0, 0, 0))), track_id=m.get("track_id"),
        attributes=m.get("attributes", {}), thumbnail=bytes(thumb),
    )


@guard_sqlite
class EmbeddedStore(GalleryStore):
    """A gallery in a local folder (see the module docstring).

    ``index`` chooses the FAISS index: ``auto`` (exact below 50k entries,
    IVF-SQ8 above, IVF-HNSW-SQ8 from 2M), ``flat``, ``ivf_sq8``, ``ivf_hnsw_sq8`` or ``hnsw``.
    """

    backend = "faiss"

    def __init__(self, folder: str | os.PathLike, *, dim: int | None = None, embedding_model: str | None = None,
                 create: bool = False, index: str = "auto") -> None:
        self.folder = Path(folder)
        self.location = str(self.folder)
        index = index.lower()
        self.index_kind = faiss_index.choose_kind(0, index) if index != "auto" else "auto"
        db = self.folder / DB_FILE
        if not db.is_file():
            if self.folder.exists() and not self.folder.is_dir():
                raise StoreError(f"--db {self.folder} is a file, not a gallery folder; give a folder path "
                                 "(or a .db file name for milvus-lite)")
            if not create:
                raise StoreError(f"no gallery at {self.folder}; create one with `faceplay gallery add PHOTOS... --db {self.folder}`")
            self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(db), timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            err = damaged_error(self.folder, exc)
            if "busy" not in str(err):
                err = StoreError(f"{err}, or delete the folder and run `faceplay gallery add` again")
            raise err from exc
        if "dim" not in meta:
            if dim is None:
                if not create:
                    raise StoreError(f"the gallery at {self.folder} is empty; add faces with `faceplay gallery add`")
            else:
                with self._tx():
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(dim),))
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedding_model', ?)", (embedding_model or "",))
                    self._db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
                meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        self.dim = int(meta["dim"]) if "dim" in meta else int(dim or 0)
        self.embedding_model = meta.get("embedding_model", embedding_model or "")
        if dim is not None and self.dim and dim != self.dim:
            raise ConfigError(f"the gallery at {self.folder} holds {self.dim}-D embeddings ({self.embedding_model}), "
                              f"not {dim}-D; use the same --embedding-model as when it was built")
        self._index = None
        self._index_gen = -1
        self._index_seq = 0
        self._dirty = False
        self._count_cache: tuple[tuple[int, int], int] | None = None
        self._cols: _Columns | None = None

    # -- helpers -----------------------------------------------------------
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, et, ev, tb) -> None:
            self.db.execute("COMMIT" if et is None else "ROLLBACK")

    def _tx(self) -> "_Tx":
        return self._Tx(self._db)

    def _generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def _bump_generation(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(self._generation() + 1),))

    # -- writing -----------------------------------------------------------
    def add_file(self, record: FileRecord, entries: list[GalleryEntry]) -> None:
        rows = []
        for e in entries:
            v = np.asarray(e.embedding, dtype=np.float32).reshape(-1)
            if v.shape[0] != self.dim:
                raise ConfigError(f"embedding of {record.path} has {v.shape[0]} dimensions, the gallery {self.dim}")
            rows.append((e.id, record.content_hash, e.source, e.timestamp, gender_code(e.gender), e.age, e.expression,
                         e.meta_json(), v.tobytes(), e.thumbnail))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM faces WHERE file_hash=? LIMIT 1", (record.content_hash,)).fetchone():
                db.execute("DELETE FROM faces WHERE file_hash=?", (record.content_hash,))
                self._bump_generation()
            db.executemany("INSERT OR REPLACE INTO faces (id, file_hash, source, timestamp, gender, age, expression, meta,"
                           " embedding, thumbnail) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)",
                       (record.content_hash, record.path, record.kind, record.n_faces, time.time()))

    def remove_source(self, source: str) -> int:
        exact, prefixes = source_patterns(source)
        # exact, case-sensitive comparisons only: LIKE would treat _ and % as wildcards and ignore case
        where = " OR ".join(["hash=?", *["path=?"] * len(exact), *["substr(path, 1, ?)=?"] * len(prefixes)])
        params = [source, *exact, *(v for p in prefixes for v in (len(p), p))]
        with self._tx() as db:
            hashes = {h for (h,) in db.execute(f"SELECT hash FROM files WHERE {where}", params)}
            ids = []
            for h in hashes:
                ids += [i for (i,) in db.execute("SELECT id FROM faces WHERE file_hash=?", (h,))]
                db.execute("DELETE FROM faces WHERE file_hash=?", (h,))
                db.execute("DELETE FROM files WHERE hash=?", (h,))
            if ids:
                self._bump_generation()
        if not hashes:
            raise StoreError(f"no ingested file matches {source!r}; see `faceplay gallery stats --db {self.folder} --files`")
        if ids and self._index is not None:
            try:
                self._index.remove_ids(np.asarray(sorted(ids), dtype=np.int64))
                self._index_gen = self._generation()
                self._dirty = True
            except RuntimeError:  # HNSW cannot delete: rebuild on next search
                self._index = None
        return len(ids)

    def writer_lock(self, *, wait: bool = True):
        """The folder's writer lock, held for a whole ``gallery add`` run (see :func:`sqlite_guard.writer_lock`)."""
        return writer_lock(self.folder, wait=wait)

    def update_attributes(self, entry_id: int, attributes: dict[str, Any]) -> None:
        row = self._db.execute("SELECT meta FROM faces WHERE id=?", (entry_id,)).fetchone()
        if row is None:
            raise StoreError(f"no gallery entry with id {entry_id}")
        meta = json.loads(row[0])
        meta["attributes"] = attributes
        with self._tx() as db:
            db.execute("UPDATE faces SET meta=?, gender=?, age=?, expression=? WHERE id=?",
                       (json.dumps(meta, separators=(",", ":")), gender_code(attributes.get("gender")),
                        attributes.get("age"), attributes.get("expression"), entry_id))
        self._cols = None  # the in-memory filter columns hold the old gender/age

    # -- reading -----------------------------------------------------------
    def has_file(self, content_hash: str) -> bool:
        return self._db.execute("SELECT 1 FROM files WHERE hash=?", (content_hash,)).fetchone() is not None

    def count(self, flt: Filter | None = None) -> int:
        where, params = (flt or Filter()).sql()
        return int(self._db.execute(f"SELECT COUNT(*) FROM faces WHERE {where}", params).fetchone()[0])

    def files(self) -> list[FileRecord]:
        return [FileRecord(h, p, k, n) for h, p, k, n in
                self._db.execute("SELECT hash, path, kind, n_faces FROM files ORDER BY added, path")]

    def get(self, ids: Iterable[int]) -> list[GalleryEntry]:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {r[0]: _row_to_entry(r) for r in self._db.execute(f"SELECT {_COLS} FROM faces WHERE id IN ({marks})", ids)}
        return [found[i] for i in ids if i in found]

    def search(self, vector: np.ndarray, k: int, flt: Filter | None = None) -> list[Hit]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ConfigError(f"the query embedding has {q.shape[0]} dimensions, the gallery {self.dim} "
                              f"({self.embedding_model}); use the same embedding model")
        if flt is not None and not flt.is_empty():
            cols = self._filter_columns()
            mask = cols.mask(flt)
            n_f = int(mask.sum())
            if n_f == 0:
                return []
            if use_exact(n_f, len(cols.ids)):
                # float16 scores shortlist 4k rows; their float32 vectors from SQLite give the exact order
                short = exact_topk(cols.vecs[mask].astype(np.float32), cols.ids[mask], q, max(4 * k, 40))
                ids = [h.id for h in short]
                marks = ",".join("?" * len(ids))
                rows = self._db.execute(f"SELECT id, embedding FROM faces WHERE id IN ({marks})", ids).fetchall()
                vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
                return exact_topk(vecs, np.asarray([r[0] for r in rows], np.int64), q, k)
            self._ensure_index()
            sims, ids = faiss_index.search(self._index, q, k, allowed=np.sort(cols.ids[mask]))
        else:
            self._ensure_index()
            if self._index.ntotal == 0:
                return []
            sims, ids = faiss_index.search(self._index, q, k)
        return [Hit(int(i), float(s)) for s, i in zip(sims[0], ids[0]) if i >= 0]

    def _filter_columns(self) -> "_Columns":
        """In-memory ids, filter columns and float16 vectors for exact filtered search (synced like the index).

        Reading the filtered rows' vectors from SQLite costs one random page read per row (~70 ms for
        5k rows at 1M); numpy over these columns takes a few ms. Memory: (2*dim + 13) bytes per face.
        """
        gen, last = self._state()
        c = self._cols
        if c is None or c.gen != gen:
            c = self._cols = _Columns(self.dim, gen)
        if c.seq < last:
            rows = self._db.execute("SELECT seq, id, gender, age, embedding FROM faces WHERE seq > ? ORDER BY seq",
                                    (c.seq,)).fetchall()
            c.append(rows)
        return c

    # -- the FAISS cache ---------------------------------------------------------
    def _rows_after(self, seq: int, limit: int = -1) -> tuple[np.ndarray, np.ndarray, int]:
        rows = self._db.execute("SELECT seq, id, embedding FROM faces WHERE seq > ? ORDER BY seq LIMIT ?",
                                (seq, limit)).fetchall()
        if not rows:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64), seq
        ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
        return vecs, ids, int(rows[-1][0])

    def _wanted_kind(self, n: int) -> str:
        return faiss_index.choose_kind(n, self.index_kind)

    def _state(self) -> tuple[int, int]:
        """(generation, last row seq): two index lookups, cheap at any gallery size."""
        last = self._db.execute("SELECT MAX(seq) FROM faces").fetchone()[0] or 0
        return self._generation(), int(last)

    def _total(self) -> int:
        """Number of entries, cached per database state (COUNT(*) scans the table)."""
        state = self._state()
        if self._count_cache is None or self._count_cache[0] != state:
            self._count_cache = (state, self.count())
        return self._count_cache[1]

    def _ensure_index(self) -> None:
        """Load / append / rebuild the FAISS index so it covers every committed row."""
        gen, last_seq = self._state()
        if self._index is not None and self._index_gen == gen and self._index_seq >= last_seq:
            return  # the common case: nothing committed since the last search
        n = self._total()
        if self._index is None:
            self._load_cache(gen)
        if self._index is not None and (self._index_gen != gen or faiss_index.kind_of(self._index) != self._wanted_kind(n)):
            self._index = None
        if self._index is None:  # built from chunks of rows: RAM holds the index and one chunk (10M faces: a few GB)
            log.info("building %s index over %d gallery faces", self._wanted_kind(n), n)
            self._index_seq = 0

            def chunks():
                while len((got := self._rows_after(self._index_seq, faiss_index.CHUNK))[1]):
                    self._index_seq = got[2]
                    yield got[:2]
            self._index = faiss_index.build_from_chunks(chunks(), n, self.dim, self._wanted_kind(n))
            self._index_gen, self._dirty = gen, True
            return
        vecs, ids, last = self._rows_after(self._index_seq)
        if len(ids):
            self._index.add_with_ids(vecs, ids)
            self._index_seq, self._dirty = last, True

    def _load_cache(self, gen: int) -> None:
        path, meta_path = self.folder / INDEX_FILE, self.folder / INDEX_META
        if not (path.is_file() and meta_path.is_file()):
            return
        try:
            meta = json.loads(meta_path.read_text())
            if int(meta["generation"]) != gen:
                return
            index = faiss_index.load(path)
            if index.ntotal != int(meta["ntotal"]):
                return
        except Exception as exc:  # a damaged cache is rebuilt, never fatal
            log.warning("ignoring the damaged gallery index cache %s (%s); rebuilding it", path, exc)
            return
        self._index, self._index_gen, self._index_seq = index, gen, int(meta["seq"])

    def flush(self) -> None:
        """Write the FAISS index cache (index first, then its metadata; both atomically)."""
        if self._index is None or not self._dirty:
            return
        faiss_index.save(self._index, self.folder / INDEX_FILE)
        meta = {"generation": self._index_gen, "seq": self._index_seq, "ntotal": int(self._index.ntotal),
                "kind": faiss_index.kind_of(self._index)}
        tmp = self.folder / (INDEX_META + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.folder / INDEX_META)
        self._dirty = False

    def build_index(self) -> str:
        """Bring the index up to date and persist it; returns its kind."""
        self._ensure_index()
        self.flush()
        return faiss_index.kind_of(self._index)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()


class _Columns:
    """Ids, gender codes, ages (NaN = unknown) and float16 vectors of every face, in row order."""

    def __init__(self, dim: int, gen: int) -> None:
        self.gen, self.seq = gen, 0
        self.ids = np.zeros(0, np.int64)
        self.gender = np.zeros(0, np.int8)
        self.age = np.zeros(0, np.float32)
        self.vecs = np.zeros((0, dim), np.float16)

    def append(self, rows: list[tuple]) -> None:
        if not rows:
            return
        n, dim = len(rows), self.vecs.shape[1]
        self.ids = np.concatenate([self.ids, np.fromiter((r[1] for r in rows), np.int64, n)])
        self.gender = np.concatenate([self.gender, np.fromiter((r[2] for r in rows), np.int8, n)])
        self.age = np.concatenate([self.age, np.fromiter((np.nan if r[3] is None else r[3] for r in rows), np.float32, n)])
        v = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(n, dim)
        self.vecs = np.concatenate([self.vecs, v.astype(np.float16)])
        self.seq = int(rows[-1][0])

    def mask(self, flt: Filter) -> np.ndarray:
        m = np.ones(len(self.ids), bool)
        if flt.gender is not None:
            m &= self.gender == gender_code(flt.gender)
        if flt.age_min is not None:
            m &= self.age >= flt.age_min  # NaN compares False: unknown ages never match a range
        if flt.age_max is not None:
            m &= self.age <= flt.age_max
        return m


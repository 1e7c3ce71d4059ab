"""The Milvus gallery: the same code reaches milvus-lite (a local ``.db`` file), a
Milvus standalone server or a cluster (``http://host:19530``) through pymilvus.

Two collections per gallery: ``<name>`` holds one row per face (vector,
filterable scalars ``gender``/``age``/``expression``, JSON metadata, base64
thumbnail) and ``<name>_files`` one row per ingested file (Milvus needs a
vector field in every collection, so it carries a constant 2-D dummy vector).
Entry ids are deterministic (see :func:`faceplay.lookalike.schema.entry_id`)
and writes are upserts: a file's faces are written first, its file record
last, so a file counts as ingested only once all its faces are stored, and
re-running an interrupted ingestion rewrites the same rows.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any, Iterable

import numpy as np

from faceplay.errors import ConfigError, StoreError
from faceplay.lookalike.schema import FileRecord, Filter, GalleryEntry, Hit, gender_code
from faceplay.lookalike.stores.base import GalleryStore, exact_topk, source_matches, source_patterns, use_exact

log = logging.getLogger(__name__)

DEFAULT_COLLECTION = "faceplay_gallery"
META_KEY = "__faceplay_gallery__"
#: Milvus caps query results at 16384 rows; larger filtered sets go to the ANN index.
QUERY_LIMIT = 16384
INDEXES = {
    "HNSW": {"M": 32, "efConstruction": 128},
    "IVF_SQ8": {"nlist": 4096},
    "IVF_FLAT": {"nlist": 1024},
    "FLAT": {},
}
_FIELDS = ["id", "file_hash", "source", "timestamp", "meta", "thumb", "embedding"]


def is_milvus_location(db: str) -> bool:
    """True for a Milvus URI (http/https/tcp/grpc) or a milvus-lite ``.db`` file."""
    return db.startswith(("http://", "https://", "tcp://", "grpc://", "milvus://")) or db.endswith(".db")


class MilvusStore(GalleryStore):
    """A gallery in Milvus (lite, standalone or cluster). See the module docstring.

    ``index``: ``HNSW`` (default; M 32, efConstruction 128), ``IVF_SQ8``,
    ``IVF_FLAT`` or ``FLAT``. ``consistency``: Milvus consistency level of
    the collections (``Strong`` reads every write back at once; ``Bounded`` is
    faster for serving). ``shards``: DML shards of a new collection (fixed at
    creation; see docs/LOOKALIKE_SCALE.md).
    """

    def __init__(self, uri: str, *, dim: int | None = None, embedding_model: str | None = None, create: bool = False,
                 collection: str = DEFAULT_COLLECTION, index: str = "HNSW", consistency: str = "Strong",
                 shards: int = 1, timeout: float = 10.0) -> None:
        from pymilvus import MilvusClient

        self.uri = uri if not uri.startswith("milvus://") else "http://" + uri[len("milvus://"):]
        self.lite = uri.endswith(".db") and not uri.startswith(("http://", "https://", "tcp://", "grpc://"))
        self.backend = "milvus-lite" if self.lite else "milvus"
        self.location = f"{self.uri} (collection {collection})"
        self.name, self.files_name = collection, collection + "_files"
        self.consistency = consistency
        self.shards = shards
        index = "HNSW" if index.lower() == "auto" else index
        if index.upper() not in INDEXES:
            raise ConfigError(f"Milvus index must be one of {', '.join(INDEXES)}, not {index!r}")
        self.index = index.upper()
        try:
            self._c = MilvusClient(uri=self.uri, timeout=timeout)
            exists = self._c.has_collection(self.name)
        except Exception as exc:
            raise StoreError(f"cannot reach Milvus at {self.uri} ({type(exc).__name__}: {str(exc)[:200]}); "
                             "start the server (e.g. `milvus-server --data DIR`) or check the URI and port") from exc
        if not exists:
            if not create or dim is None:
                self._c.close()
                raise StoreError(f"no gallery collection {self.name!r} at {self.uri}; create one with "
                                 f"`faceplay gallery add PHOTOS... --db {uri}`")
            self._create(dim, embedding_model or "")
        desc = self._c.describe_collection(self.name)
        vec = next(f for f in desc["fields"] if f["name"] == "embedding")
        self.dim = int(vec["params"]["dim"])
        self._c.load_collection(self.files_name)
        meta = self._c.query(self.files_name, ids=[META_KEY], output_fields=["path"])
        self.embedding_model = meta[0]["path"] if meta else ""
        if dim is not None and dim != self.dim:
            raise ConfigError(f"the gallery {self.name!r} holds {self.dim}-D embeddings ({self.embedding_model}), "
                              f"not {dim}-D; use the same --embedding-model as when it was built")
        self._c.load_collection(self.name)

    # -- creation ----------------------------------------------------------
    def _create(self, dim: int, model: str) -> None:
        from pymilvus import DataType, MilvusClient

        s = MilvusClient.create_schema(auto_id=False, description=model)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
        s.add_field("file_hash", DataType.VARCHAR, max_length=64)
        s.add_field("source", DataType.VARCHAR, max_length=4096)
        s.add_field("timestamp", DataType.DOUBLE)  # -1 for photos
        s.add_field("gender", DataType.INT64)  # 0 unknown, 1 male, 2 female
        s.add_field("age", DataType.FLOAT)  # -1 unknown
        s.add_field("expression", DataType.VARCHAR, max_length=16)
        s.add_field("meta", DataType.VARCHAR, max_length=16384)
        s.add_field("thumb", DataType.VARCHAR, max_length=65535)
        extra = {"num_shards": self.shards} if self.shards > 1 else {}
        self._c.create_collection(self.name, schema=s, consistency_level=self.consistency, **extra)
        ip = self._c.prepare_index_params()
        ip.add_index("embedding", index_type=self.index, metric_type="IP", params=INDEXES[self.index])
        self._c.create_index(self.name, ip)
        # scalar indexes speed up filters (Milvus 2.3 servers have STL_SORT, no INVERTED; milvus-lite only INVERTED)
        scalar_index = "INVERTED" if self.lite else "STL_SORT"
        for field in ("gender", "age"):
            try:
                sp = self._c.prepare_index_params()
                sp.add_index(field, index_type=scalar_index, index_name=f"{field}_idx")
                self._c.create_index(self.name, sp)
            except Exception as exc:  # milvus-lite builds none: filters scan, which is fine at its scale
                log.debug("no scalar index on %s: %s", field, exc)
        fs = MilvusClient.create_schema(auto_id=False, description="faceplay ingested files")
        fs.add_field("hash", DataType.VARCHAR, max_length=64, is_primary=True)
        fs.add_field("path", DataType.VARCHAR, max_length=4096)
        fs.add_field("kind", DataType.VARCHAR, max_length=8)
        fs.add_field("n_faces", DataType.INT64)
        fs.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)
        self._c.create_collection(self.files_name, schema=fs, consistency_level=self.consistency)
        fp = self._c.prepare_index_params()
        fp.add_index("dummy", index_type="FLAT", metric_type="L2")
        self._c.create_index(self.files_name, fp)
        self._wait_for_index(self.name, "embedding")
        self._wait_for_index(self.files_name, "dummy")
        self._c.load_collection(self.files_name)
        # gallery-wide settings live in a reserved row of the files collection (milvus-lite drops descriptions)
        self._c.upsert(self.files_name, [{"hash": META_KEY, "path": model, "kind": "meta", "n_faces": dim,
                                          "dummy": [0.0, 0.0]}])

    def _wait_for_index(self, coll: str, field: str, timeout: float = 120.0) -> None:
        """Milvus 2.3 builds indexes asynchronously: poll before loading."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                names = self._c.list_indexes(coll, field_name=field)
                info = self._c.describe_index(coll, names[0]) if names else {}
            except Exception as exc:  # pragma: no cover - transient
                log.debug("describe_index: %s", exc)
                info = {}
            state = str(info.get("state", "Finished"))
            if names and ("Finished" in state or state in ("", "3")):
                return
            time.sleep(0.2)
        raise StoreError(f"Milvus did not finish building the index of {coll}.{field} in {timeout:.0f} s; check the server logs")

    # -- writing -----------------------------------------------------------
    def add_file(self, record: FileRecord, entries: list[GalleryEntry]) -> None:
        rows = []
        for e in entries:
            v = np.asarray(e.embedding, dtype=np.float32).reshape(-1)
            if v.shape[0] != self.dim:
                raise ConfigError(f"embedding of {record.path} has {v.shape[0]} dimensions, the gallery {self.dim}")
            rows.append({
                "id": int(e.id), "embedding": v.tolist(), "file_hash": record.content_hash, "source": e.source,
                "timestamp": -1.0 if e.timestamp is None else float(e.timestamp), "gender": gender_code(e.gender),
                "age": -1.0 if e.age is None else float(e.age), "expression": e.expression or "",
                "meta": e.meta_json(), "thumb": base64.b64encode(e.thumbnail).decode("ascii"),
            })
        try:
            if rows:  # ids are deterministic: re-running an interrupted file rewrites the same rows
                self._c.upsert(self.name, rows)
            self._c.upsert(self.files_name, [{"hash": record.content_hash, "path": record.path, "kind": record.kind,
                                              "n_faces": int(record.n_faces), "dummy": [0.0, 0.0]}])
        except Exception as exc:
            raise StoreError(f"Milvus at {self.uri} rejected the write of {record.path}: {str(exc)[:300]}") from exc

    def remove_source(self, source: str) -> int:
        exact, prefixes = source_patterns(source)
        q = json.dumps
        # `like` only narrows the candidates (cut before any wildcard character); the exact,
        # case-sensitive rule is applied here, so `_`, `%` or another case never widen a removal
        likes = [p[:min([p.find(c) for c in "%_\\" if c in p] or [len(p)])] + "%" for p in prefixes]
        expr = " or ".join([f"hash == {q(source)}", *(f"path == {q(p)}" for p in exact), *(f"path like {q(p)}" for p in likes)])
        rows = self._c.query(self.files_name, filter=expr, output_fields=["hash", "path"], limit=QUERY_LIMIT)
        hashes = [r["hash"] for r in rows if source_matches(r["path"], r["hash"], source)]
        if not hashes:
            raise StoreError(f"no ingested file matches {source!r}; see `faceplay gallery stats --db {self.uri} --files`")
        hexpr = f"file_hash in {q(hashes)}"
        n = self.count_expr(hexpr)
        self._c.delete(self.name, filter=hexpr)
        self._c.delete(self.files_name, filter=f"hash in {q(hashes)}")
        return n

    def update_attributes(self, entry_id: int, attributes: dict[str, Any]) -> None:
        got = self._query_entries([entry_id])
        if not got:
            raise StoreError(f"no gallery entry with id {entry_id}")
        e = got[0]
        e.attributes = attributes
        self._c.upsert(self.name, [{
            "id": int(e.id), "embedding": e.embedding.tolist(), "file_hash": e.file_hash, "source": e.source,
            "timestamp": -1.0 if e.timestamp is None else float(e.timestamp), "gender": gender_code(e.gender),
            "age": -1.0 if e.age is None else float(e.age), "expression": e.expression or "",
            "meta": e.meta_json(), "thumb": base64.b64encode(e.thumbnail).decode("ascii"),
        }])

    # -- reading -----------------------------------------------------------
    def has_file(self, content_hash: str) -> bool:
        return bool(self._c.query(self.files_name, ids=[content_hash], output_fields=["hash"]))

    def count_expr(self, expr: str) -> int:
        res = self._c.query(self.name, filter=expr or "id >= 0", output_fields=["count(*)"])
        return int(res[0]["count(*)"]) if res else 0

    def count(self, flt: Filter | None = None) -> int:
        return self.count_expr((flt or Filter()).milvus_expr())

    def files(self) -> list[FileRecord]:
        # the iterator warns about a harmless fallback to client-side timestamps on milvus-lite / 2.3
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        out, it = [], self._c.query_iterator(self.files_name, batch_size=1000, filter=f'hash != "{META_KEY}"',
                                             output_fields=["hash", "path", "kind", "n_faces"])
        try:
            while batch := it.next():
                out += [FileRecord(r["hash"], r["path"], r["kind"], int(r["n_faces"])) for r in batch]
        finally:
            it.close()
        return sorted(out, key=lambda f: f.path)

    def _query_entries(self, ids: list[int]) -> list[GalleryEntry]:
        rows = self._c.query(self.name, ids=ids, output_fields=_FIELDS)
        found = {}
        for r in rows:
            m = json.loads(r["meta"])
            found[int(r["id"])] = GalleryEntry(
                id=int(r["id"]), embedding=np.asarray(r["embedding"], dtype=np.float32), file_hash=r["file_hash"],
                source=r["source"], timestamp=None if r["timestamp"] < 0 else float(r["timestamp"]),
                box=tuple(m.get("box", (0, 0, 0, 0))), track_id=m.get("track_id"),
                attributes=m.get("attributes", {}), thumbnail=base64.b64decode(r["thumb"]),
            )
        return [found[i] for i in ids if i in found]

    def get(self, ids: Iterable[int]) -> list[GalleryEntry]:
        ids = [int(i) for i in ids]
        return self._query_entries(ids) if ids else []

    def search(self, vector: np.ndarray, k: int, flt: Filter | None = None) -> list[Hit]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ConfigError(f"the query embedding has {q.shape[0]} dimensions, the gallery {self.dim} "
                              f"({self.embedding_model}); use the same embedding model")
        expr = ""
        if flt is not None and not flt.is_empty():
            expr = flt.milvus_expr()
            n_f = self.count(flt)
            if n_f == 0:
                return []
            if n_f <= QUERY_LIMIT and use_exact(n_f, self.count()):
                rows = self._c.query(self.name, filter=expr, output_fields=["id", "embedding"], limit=QUERY_LIMIT)
                ids = np.asarray([r["id"] for r in rows], dtype=np.int64)
                vecs = np.asarray([r["embedding"] for r in rows], dtype=np.float32).reshape(len(rows), self.dim)
                return exact_topk(vecs, ids, q, k)
        params: dict[str, Any] = {"metric_type": "IP", "params": {}}
        if self.index == "HNSW":
            params["params"]["ef"] = max(64, k)
        elif self.index.startswith("IVF"):
            params["params"]["nprobe"] = 16
        res = self._c.search(self.name, data=[q.tolist()], filter=expr, limit=k, search_params=params,
                             anns_field="embedding", output_fields=["id"])
        return [Hit(int(h["id"]), float(h["distance"])) for h in res[0]]

    def drop(self) -> None:
        """Delete the gallery's collections (irreversible)."""
        self._c.drop_collection(self.name)
        self._c.drop_collection(self.files_name)

    def close(self) -> None:
        try:
            self._c.close()
        except Exception:  # pragma: no cover - closing a dead connection
            pass

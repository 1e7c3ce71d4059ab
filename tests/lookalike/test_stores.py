"""The embedded store: persistence, index cache consistency, filters (pushed down, exact when selective), removal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceplay.lookalike import open_gallery
from faceplay.lookalike.schema import FileRecord, Filter, GalleryEntry, entry_id


def clustered(n: int, d: int = 128, clusters: int = 64, seed: int = 0) -> np.ndarray:
    """Gaussian-mixture unit vectors (face embeddings cluster by identity and look)."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(clusters, d)).astype(np.float32)
    v = c[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(store, vecs: np.ndarray, per_file: int = 100, seed: int = 1) -> list[GalleryEntry]:
    rng = np.random.default_rng(seed)
    out = []
    for f in range(0, len(vecs), per_file):
        h = f"{f:064x}"
        ents = [GalleryEntry(id=entry_id(h, i), embedding=vecs[f + i], file_hash=h, source=f"/gallery/file{f}.jpg",
                             attributes={"gender": "male" if rng.random() < 0.5 else "female",
                                         "gender_score": 0.9, "age": float(rng.integers(5, 90))},
                             thumbnail=b"")
                for i in range(min(per_file, len(vecs) - f))]
        store.add_file(FileRecord(h, f"/gallery/file{f}.jpg", "image", len(ents)), ents)
        out += ents
    return out


def brute(entries, q, k, keep=lambda e: True):
    cand = [e for e in entries if keep(e)]
    sims = np.array([float(e.embedding @ q) for e in cand])
    order = np.argsort(-sims, kind="stable")[:k]
    return [cand[i].id for i in order]


def test_reopen_uses_the_index_cache_and_appends_new_rows(tmp_path):
    vecs = clustered(3000)
    db = tmp_path / "db"
    with open_gallery(db, create=True, dim=128, embedding_model="sface") as s:
        ents = fill(s, vecs[:2000])
        assert [h.id for h in s.search(vecs[5], 5)] == brute(ents, vecs[5], 5)
    meta = json.loads((db / "index.json").read_text())
    assert meta["ntotal"] == 2000 and meta["kind"] == "flat"
    # rows committed after the index was saved (here by a second writer) are appended on open
    with open_gallery(db) as s2:
        more = []
        for f in range(2000, 3000, 100):
            h = f"{f:064x}"
            more += [GalleryEntry(id=entry_id(h, i), embedding=vecs[f + i], file_hash=h, source="x", thumbnail=b"")
                     for i in range(100)]
            s2.add_file(FileRecord(h, f"/gallery/file{f}.jpg", "image", 100), more[-100:])
    with open_gallery(db) as s3:
        assert s3.count() == 3000
        assert [h.id for h in s3.search(vecs[2500], 3)][0] == more[500].id
    assert json.loads((db / "index.json").read_text())["ntotal"] == 3000


def test_damaged_index_cache_is_rebuilt(tmp_path):
    vecs = clustered(500)
    db = tmp_path / "db"
    with open_gallery(db, create=True, dim=128, embedding_model="sface") as s:
        ents = fill(s, vecs)
        s.search(vecs[0], 1)
    (db / "index.faiss").write_bytes(b"\x00garbage" * 100)
    with open_gallery(db) as s:
        assert [h.id for h in s.search(vecs[42], 4)] == brute(ents, vecs[42], 4)


def test_remove_source_deletes_its_faces_everywhere(tmp_path):
    vecs = clustered(600)
    with open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface") as s:
        ents = fill(s, vecs)
        victim = ents[150]
        assert s.search(victim.embedding, 1)[0].id == victim.id
        assert s.remove_source(victim.source) == 100
        assert s.count() == 500 and not s.has_file(victim.file_hash)
        assert s.search(victim.embedding, 1)[0].id != victim.id
        assert victim.id not in {h.id for h in s.search(victim.embedding, 600)}
    with open_gallery(tmp_path / "db") as s:  # and after reopening (index cache re-synced)
        assert victim.id not in {h.id for h in s.search(victim.embedding, 600)}


@pytest.mark.parametrize("index", ["flat", "ivf_sq8", "hnsw"])
def test_filters_match_exact_search_over_the_filtered_rows(tmp_path, index, monkeypatch):
    from faceplay.lookalike.stores import base

    # at this test's size every filter would be "selective"; lower the row limit so broad ones go to the ANN index
    monkeypatch.setattr(base, "EXACT_FILTER_ROWS", 100)
    vecs = clustered(8000, seed=3)
    with open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface", index=index) as s:
        ents = fill(s, vecs)
        assert s.build_index() == index
        qs = clustered(20, seed=4)
        # very selective (about 0.6 % of rows): answered exactly, whatever the index
        sel = Filter(gender="female", age_min=40, age_max=40)
        keep = lambda e: e.attributes["gender"] == "female" and e.attributes["age"] == 40  # noqa: E731
        n = sum(map(keep, ents))
        assert 0 < n == s.count(sel) < 0.01 * len(ents)
        for q in qs:
            assert [h.id for h in s.search(q, 10, sel)] == brute(ents, q, 10, keep)
        # broad (about half the rows): pushed into the ANN index as an id selector
        broad = Filter(gender="male")
        keep_m = lambda e: e.attributes["gender"] == "male"  # noqa: E731
        recall = np.mean([len(set(h.id for h in s.search(q, 10, broad)) & set(brute(ents, q, 10, keep_m))) / 10
                          for q in qs])
        assert all(e.attributes["gender"] == "male" for e in s.get([h.id for h in s.search(qs[0], 10, broad)]))
        assert recall >= (1.0 if index == "flat" else 0.9)
        # an age range without a minimum excludes faces of unknown age
        assert s.count(Filter(age_max=200)) == len(ents)


def test_wrong_dimension_and_model_are_explained(tmp_path):
    from faceplay.errors import ConfigError

    with open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface") as s:
        fill(s, clustered(100))
        with pytest.raises(ConfigError, match="128"):
            s.search(np.ones(512, np.float32), 3)
    with pytest.raises(ConfigError, match="embedding"):
        open_gallery(tmp_path / "db", dim=512, embedding_model="arcface")

"""Milvus backends: milvus-lite and a real Milvus 2.3.5 server give the same answers as the embedded FAISS store.

(Named ``zz`` so it runs last: the server, started by the session fixture at the first lookalike test,
has had its ~40 s to come up while the other tests ran.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict

import numpy as np
import pytest

from faceplay.lookalike import open_gallery
from faceplay.lookalike.schema import FileRecord, Filter
from tests.lookalike.conftest import HELD_OUT


@pytest.fixture(scope="module")
def gallery_data(photo_gallery, faces_dir, face_source):
    """Every entry of the photo gallery (grouped by file) and the held-out query embeddings."""
    with open_gallery(photo_gallery) as store:
        n = store.count()
        entries = store.get([h.id for h in store.search(np.ones(128, np.float32) / np.sqrt(128), n)])
        files = {f.content_hash: f for f in store.files()}
    assert len(entries) == n
    by_file = defaultdict(list)
    for e in entries:
        by_file[e.file_hash].append(e)
    from faceplay.media import read_image

    queries = {ident: face_source.photo_faces(read_image(faces_dir / name), fields=("embedding",))[0].embedding
               for ident, name in sorted(HELD_OUT.items())}
    return files, by_file, queries


def _copy(store, files, by_file) -> None:
    for h, ents in by_file.items():
        f = files[h]
        store.add_file(FileRecord(h, f.path, f.kind, len(ents)), ents)


def _top3(store, queries, flt=None):
    return {ident: [h.id for h in store.search(q, 3, flt)] for ident, q in queries.items()}


def _check_same_answers(store, photo_gallery, files, by_file, queries):
    _copy(store, files, by_file)
    assert store.count() == sum(len(v) for v in by_file.values())
    assert len(store.files()) == len(files)
    with open_gallery(photo_gallery) as ref:
        assert _top3(store, queries) == _top3(ref, queries)
        female = Filter(gender="female")
        assert _top3(store, queries, female) == _top3(ref, queries, female)
        for ident, q in queries.items():
            a, b = store.search(q, 3), ref.search(q, 3)
            assert np.allclose([h.similarity for h in a], [h.similarity for h in b], atol=1e-4)
    # the stored record round-trips: source, box, attributes, thumbnail
    e = next(iter(by_file.values()))[0]
    got = store.get([e.id])[0]
    assert (got.source, got.attributes, got.thumbnail) == (e.source, e.attributes, e.thumbnail)
    assert np.allclose(got.box, e.box, atol=0.05)
    # removal by source
    assert store.remove_source(e.source) == len(by_file[e.file_hash])
    assert not store.has_file(e.file_hash)
    assert e.id not in {h.id for h in store.search(e.embedding, 3)}


def test_milvus_lite_gives_the_same_top3_as_faiss(tmp_path, photo_gallery, gallery_data):
    files, by_file, queries = gallery_data
    store = open_gallery(str(tmp_path / "gallery.db"), create=True, dim=128, embedding_model="sface")
    try:
        assert store.backend == "milvus-lite"
        _check_same_answers(store, photo_gallery, files, by_file, queries)
    finally:
        store.close()


@pytest.mark.integration
def test_milvus_server_gives_the_same_top3_as_faiss(milvus_uri, photo_gallery, gallery_data):
    files, by_file, queries = gallery_data
    coll = "t_" + uuid.uuid4().hex[:8]
    store = open_gallery(milvus_uri, create=True, dim=128, embedding_model="sface", collection=coll)
    try:
        assert store.backend == "milvus"
        _check_same_answers(store, photo_gallery, files, by_file, queries)
    finally:
        store.drop()
        store.close()


@pytest.mark.integration
def test_cli_against_the_milvus_server(milvus_uri, faces_dir, tmp_path):
    """`gallery add` / `lookalike` with --db http://host:port: the same commands as for a folder."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("obama_obama.jpg", "biden_biden.jpg", "rose_leslie_img2.jpg", "alex_lacamoire_img1.jpg"):
        (src / name).symlink_to(faces_dir / name)
    coll = "cli_" + uuid.uuid4().hex[:8]

    def run(*args):
        res = subprocess.run([sys.executable, "-m", "faceplay.cli", *args, "--db", milvus_uri, "--collection", coll,
                              "--json"], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    try:
        assert run("gallery", "add", str(src))["faces_added"] == 4
        assert run("gallery", "add", str(src))["files_skipped"] == 4  # content hashes kept in Milvus
        with open_gallery(milvus_uri, collection=coll) as store:
            stats = store.stats()
        assert stats["backend"] == "milvus" and stats["entries"] == 4 and stats["embedding_model"] == "sface"
        doc = run("lookalike", str(faces_dir / "biden_biden2.jpg"))
        assert doc["winner"]["source"].endswith("biden_biden.jpg")
        assert doc["winner"]["terms"]["gender"] > 0.5
    finally:
        from pymilvus import MilvusClient

        c = MilvusClient(uri=milvus_uri)
        for name in (coll, coll + "_files"):
            c.drop_collection(name)
        c.close()

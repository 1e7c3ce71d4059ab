"""``--engine ray`` with the real Milvus 2.3.5 server as the sink: the one-machine faces, and a killed worker
loses and duplicates nothing (the server comes from the session fixture of test_zz_milvus.py's conftest)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from faceplay.lookalike import Ingester, open_gallery
from tests.lookalike.conftest import HELD_OUT, RAY_OPTIONS
from tests.lookalike.test_ray_ingest import assert_same_gallery, kill_one_worker_then_finish


@pytest.mark.integration
def test_ray_into_the_milvus_server_with_a_killed_worker(milvus_uri, ray_address, ray_src, ray_reference, face_source,
                                                         faces_dir):
    from faceplay.lookalike.ray_ingest import RayIngester
    from faceplay.media import read_image

    ref_db, reference = ray_reference
    coll = "ray_" + uuid.uuid4().hex[:8]
    store = open_gallery(milvus_uri, create=True, dim=128, embedding_model="sface", collection=coll)
    try:
        ing = RayIngester(store, Ingester(store, face_source, **RAY_OPTIONS), address=ray_address, workers=2)
        first, again = kill_one_worker_then_finish(ing, ray_src)
        assert again.files_added == len(first.failed) and again.files_skipped == first.files_added
        assert store.count() == len(reference)
        # every row, read back by id from the server (no duplicate rows: the count above is the server's)
        got = {e.id: e for e in store.get(list(reference))}
        assert_same_gallery(got, reference)
        # the same nearest faces as the one-machine folder gallery
        with open_gallery(ref_db) as ref:
            for name in sorted(HELD_OUT.values())[:3]:
                q = face_source.photo_faces(read_image(faces_dir / name), fields=("embedding",))[0].embedding
                a, b = store.search(q, 5), ref.search(q, 5)
                assert [h.id for h in a] == [h.id for h in b]
                assert np.allclose([h.similarity for h in a], [h.similarity for h in b], atol=1e-4)
    finally:
        store.close()
        from pymilvus import MilvusClient

        c = MilvusClient(uri=milvus_uri)
        for name in (coll, coll + "_files"):
            c.drop_collection(name)
        c.close()

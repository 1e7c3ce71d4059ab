"""Re-ranking: equal identity similarity, only one candidate agrees in gender and age -> it wins, and the terms say why."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.errors import ConfigError
from faceplay.lookalike.rerank import RerankWeights, rerank


def test_rerank_prefers_the_candidate_that_agrees_in_gender_and_age():
    query = {"gender": "female", "gender_score": 0.96, "age": 31.0, "expression": "happy"}
    older_man = {"gender": "male", "gender_score": 0.93, "age": 68.0, "expression": "happy"}
    peer = {"gender": "female", "gender_score": 0.91, "age": 33.0, "expression": "happy"}
    order = rerank([0.62, 0.62], query, [older_man, peer])
    (i_win, win), (i_lose, lose) = order
    assert i_win == 1  # the peer, although listed first by identity was the older man
    assert win.terms["identity"] == lose.terms["identity"] == pytest.approx(0.62)
    assert win.terms["gender"] > 0.85 > 0.2 > lose.terms["gender"]
    assert win.terms["age"] > 0.8 > 0.1 > lose.terms["age"]
    assert win.terms["expression"] == lose.terms["expression"]
    assert win.score - lose.score == pytest.approx(sum(win.contributions.values()) - sum(lose.contributions.values()))


def test_identity_dominates_with_default_weights():
    """A clearly more similar face wins even when its attributes disagree."""
    query = {"gender": "female", "gender_score": 0.96, "age": 31.0}
    order = rerank([0.80, 0.55], query, [{"gender": "male", "gender_score": 0.9, "age": 60.0},
                                         {"gender": "female", "gender_score": 0.9, "age": 31.0}])
    assert order[0][0] == 0


def test_unknown_attributes_are_neutral_and_weights_configurable():
    query = {"gender": "male", "gender_score": 0.9, "age": 40.0}
    order = rerank([0.5, 0.5], query, [{}, {"gender": "male", "gender_score": 0.9, "age": 40.0}])
    unknown = dict(order)[0]
    assert unknown.terms["gender"] == unknown.terms["age"] == unknown.terms["expression"] == 0.5
    w = RerankWeights.parse("identity=1,gender=0,age=0,expression=0")
    flat = rerank([0.5, 0.5], query, [{}, {"gender": "female", "gender_score": 0.99}], w)
    assert flat[0][1].score == flat[1][1].score == 0.5
    with pytest.raises(ConfigError):
        RerankWeights.parse("identity=1,colour=3")
    with pytest.raises(ConfigError):
        RerankWeights.parse("age=old")


def test_search_reranks_real_gallery_entries_with_equal_similarity(tmp_path, faces_dir, face_source):
    """End to end: two stored faces built to have exactly the same similarity to the query embedding;
    the one whose stored gender/age agree with the query's wins the search."""
    from faceplay.lookalike import LookalikeSearch, open_gallery
    from faceplay.lookalike.faces import attributes_of, thumbnail
    from faceplay.lookalike.schema import FileRecord, GalleryEntry, entry_id
    from faceplay.media import read_image

    rgb = read_image(faces_dir / "rose_leslie_img1.jpg")
    store = open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface")
    s = LookalikeSearch(store, face_source, top=2, query_max_side=None)  # the query embedding must be exactly q
    frame, face = s.query_face(rgb)
    face_source.describe(frame, face, ("embedding", "age", "gender", "expression"))
    assert face.gender == "female" and 15 < face.age < 50
    q = face.embedding
    rng = np.random.default_rng(7)
    u = rng.normal(size=128).astype(np.float32)
    u -= (u @ q) * q
    u /= np.linalg.norm(u)
    a, b = 0.6, 0.8  # both candidates: cosine 0.6 to the query
    man = read_image(faces_dir / "biden_biden.jpg")
    man_face = face_source.photo_faces(man)[0]
    entries = []
    for i, (vec, img, f, attrs) in enumerate([
        (a * q + b * u, man, man_face, {**attributes_of(man_face), "gender": "male", "gender_score": 0.97, "age": 75.0}),
        (a * q - b * u, rgb, face, {**attributes_of(face)}),
    ]):
        h = f"{i:064x}"
        e = GalleryEntry(id=entry_id(h, 0), embedding=(vec / np.linalg.norm(vec)).astype(np.float32), file_hash=h,
                         source=f"constructed-{i}", box=f.box, attributes=attrs, thumbnail=thumbnail(img, f.box))
        store.add_file(FileRecord(h, f"constructed-{i}", "image", 1), [e])
        entries.append(e)
    res = s.search(rgb)
    store.close()
    sims = [m.similarity for m in res.top]
    assert sims[0] == pytest.approx(sims[1], abs=1e-5) == pytest.approx(0.6, abs=1e-4)
    assert res.winner.entry.source == "constructed-1"
    loser = res.top[1]
    assert res.winner.terms["gender"] > 0.8 and loser.terms["gender"] < 0.2
    assert res.winner.terms["age"] > loser.terms["age"]
    assert res.winner.score > loser.score


def test_missing_candidate_attributes_come_from_the_thumbnail(tmp_path, faces_dir, face_source):
    """An entry stored without attributes is analysed from its thumbnail during the re-rank, and the result is kept."""
    from faceplay.lookalike import LookalikeSearch, open_gallery
    from faceplay.lookalike.faces import thumbnail
    from faceplay.lookalike.schema import FileRecord, GalleryEntry, entry_id
    from faceplay.media import read_image

    rgb = read_image(faces_dir / "obama_obama.jpg")
    face = face_source.photo_faces(rgb, fields=("embedding",))[0]
    h = "ab" * 32
    e = GalleryEntry(id=entry_id(h, 0), embedding=face.embedding, file_hash=h, source="bare", box=face.box,
                     attributes={}, thumbnail=thumbnail(rgb, face.box))
    with open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface") as store:
        store.add_file(FileRecord(h, "bare", "image", 1), [e])
        res = LookalikeSearch(store, face_source, top=1).search(read_image(faces_dir / "obama3.jpg"))
        assert res.winner.entry.attributes["gender"] == "male"
        assert 35 < res.winner.entry.attributes["age"] < 75
        assert res.winner.terms["gender"] > 0.8
        assert store.get([e.id])[0].attributes["gender"] == "male"  # cached in the gallery

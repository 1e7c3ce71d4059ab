"""Lookalike search on real photos: a held-out photo of each identity finds that identity first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.lookalike.conftest import GALLERY_PHOTOS, HELD_OUT


def _identity(source: str) -> str | None:
    name = Path(source).name
    return next((ident for ident, photos in GALLERY_PHOTOS.items() if name in photos), None)


@pytest.mark.parametrize("identity", sorted(HELD_OUT))
def test_held_out_photo_finds_its_identity_first(identity, photo_gallery, faces_dir, face_source):
    from faceplay.lookalike import LookalikeSearch, open_gallery
    from faceplay.media import read_image

    with open_gallery(photo_gallery) as store:
        assert store.count() > 120  # the known identities among 120+ real distractors
        res = LookalikeSearch(store, face_source).search(read_image(faces_dir / HELD_OUT[identity]))
    assert _identity(res.winner.entry.source) == identity, res.to_dict()
    # identity alone also ranks it first: the re-rank did not have to rescue it
    best_by_identity = max(res.top, key=lambda m: m.similarity)
    assert _identity(best_by_identity.entry.source) == identity
    assert res.winner.similarity > 0.363  # above SFace's same-person threshold
    assert len(res.top) == 3 and res.candidates == 3
    assert [m.similarity for m in sorted(res.top, key=lambda m: m.rank_by_identity)] == sorted(
        (m.similarity for m in res.top), reverse=True)


def test_cli_lookalike_json_and_contact_sheet(photo_gallery, faces_dir, tmp_path):
    sheet = tmp_path / "sheet.png"
    out = subprocess.run([sys.executable, "-m", "faceplay.cli", "lookalike", str(faces_dir / "test_obama1.jpg"),
                          "--db", str(photo_gallery), "--top", "3", "--json", "-o", str(sheet)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(doc) >= {"query", "winner", "top"}
    assert "box" in doc["query"]
    w = doc["winner"]
    assert set(w) >= {"source", "timestamp", "similarity", "score", "terms"}
    assert set(w["terms"]) == {"identity", "gender", "age", "expression"}
    assert Path(w["source"]).name in GALLERY_PHOTOS["obama"]
    assert w["timestamp"] is None  # a photo
    assert len(doc["top"]) == 3 and doc["top"][0] == w
    assert all(a["score"] >= b["score"] for a, b in zip(doc["top"], doc["top"][1:]))
    from faceplay.media import read_image

    img = read_image(sheet)
    assert img.shape[1] > 4 * 200 and img.shape[0] > 200  # query + 3 tiles
    # the winner's tile (second tile) is framed in gold
    frame_px = img[12 + 22 - 3, 12 + 212 + 100]
    assert frame_px[0] > 200 and frame_px[1] > 150 and frame_px[2] < 80


def test_face_option_picks_another_face(photo_gallery, faces_dir, face_source):
    """--face 1 in the Kit + Rose photo queries Rose's face (the smaller one): Rose is found."""
    from faceplay.lookalike import LookalikeSearch, open_gallery
    from faceplay.media import read_image

    rgb = read_image(faces_dir / "test_kit_with_rose.jpg")
    with open_gallery(photo_gallery) as store:
        s = LookalikeSearch(store, face_source)
        faces = [s.query_face(rgb, i)[1] for i in (0, 1)]
        assert faces[0].box[2] * faces[0].box[3] >= faces[1].box[2] * faces[1].box[3]
        names = {_identity(s.search(rgb, face_index=i).winner.entry.source) for i in (0, 1)}
    assert names == {"kit_harington", "rose_leslie"}


def test_stored_entries_carry_source_box_attributes_and_thumbnail(photo_gallery):
    from faceplay.lookalike import open_gallery
    from faceplay.lookalike.faces import decode_thumbnail

    with open_gallery(photo_gallery) as store:
        files = store.files()
        assert len(files) == store.stats()["files"] and all(f.kind == "image" for f in files)
        hits = store.search(np.ones(128, np.float32) / np.sqrt(128), 20)
        for e in store.get([h.id for h in hits]):
            assert Path(e.source).is_file()
            x, y, w, h = e.box
            assert w > 20 and h > 20
            assert e.attributes["quality"]["score"] > 0
            assert "skin_tone" in e.attributes and "face_shape" in e.attributes
            thumb = decode_thumbnail(e.thumbnail)
            assert thumb.shape == (144, 144, 3) and thumb.std() > 10  # a real picture, not a blank
            assert abs(float(np.linalg.norm(e.embedding)) - 1.0) < 1e-4


def test_gender_filter_is_applied(photo_gallery, faces_dir, face_source):
    """--gender female for a photo of Obama: the best *female* face wins, never a male one."""
    from faceplay.lookalike import Filter, LookalikeSearch, open_gallery
    from faceplay.media import read_image

    with open_gallery(photo_gallery) as store:
        res = LookalikeSearch(store, face_source, flt=Filter(gender="female")).search(read_image(faces_dir / "test_obama1.jpg"))
    assert all(m.entry.attributes.get("gender") == "female" for m in res.top)
    assert _identity(res.winner.entry.source) != "obama"

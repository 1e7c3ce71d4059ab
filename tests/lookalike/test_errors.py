"""Bad inputs give clear one-line errors; a killed ingestion leaves a usable gallery."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faceplay.errors import NoFaceError, StoreError


def faceplay(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "faceplay.cli", *args], capture_output=True, text=True, timeout=timeout)


def _one_line_error(res: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    errors = [line for line in res.stderr.splitlines() if line.startswith("faceplay: error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in errors[0], errors[0]


@pytest.fixture(scope="module")
def faceless_photo(tmp_path_factory, hamilton) -> Path:
    """A real frame of the hamilton clip (stage, no face visible: frame 50)."""
    from faceplay.media import VideoReader, write_image

    with VideoReader(hamilton) as v:
        rgb = next(f.rgb for f in v if f.index == 50)
    return write_image(tmp_path_factory.mktemp("noface") / "stage.jpg", rgb)


def test_query_without_a_face(photo_gallery, faceless_photo, face_source):
    from faceplay.lookalike import LookalikeSearch, open_gallery
    from faceplay.media import read_image

    with open_gallery(photo_gallery) as store, pytest.raises(NoFaceError, match="no face found"):
        LookalikeSearch(store, face_source).search(read_image(faceless_photo))
    _one_line_error(faceplay("lookalike", str(faceless_photo), "--db", str(photo_gallery)), 3, "no face found")


def test_face_index_out_of_range(photo_gallery, faces_dir):
    _one_line_error(faceplay("lookalike", str(faces_dir / "obama3.jpg"), "--face", "5", "--db", str(photo_gallery)),
                    2, "--face 5", "has 1 face")


def test_missing_and_empty_gallery(tmp_path, faces_dir, faceless_photo):
    _one_line_error(faceplay("lookalike", str(faces_dir / "obama3.jpg"), "--db", str(tmp_path / "nothing")), 5,
                    "no gallery", "faceplay gallery add")
    # a gallery that exists but holds no face (only a face-less photo was added)
    res = faceplay("gallery", "add", str(faceless_photo), "--db", str(tmp_path / "empty"), "--json")
    assert res.returncode == 0, res.stderr
    _one_line_error(faceplay("lookalike", str(faces_dir / "obama3.jpg"), "--db", str(tmp_path / "empty")), 5,
                    "empty", "gallery add")
    stats = faceplay("gallery", "stats", "--db", str(tmp_path / "empty"), "--json")
    assert '"entries": 0' in stats.stdout and '"files_without_faces": 1' in stats.stdout


def test_corrupt_gallery_file(tmp_path, faces_dir):
    db = tmp_path / "db"
    db.mkdir()
    (db / "gallery.sqlite").write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match="damaged"):
        from faceplay.lookalike import open_gallery

        open_gallery(db)
    _one_line_error(faceplay("lookalike", str(faces_dir / "obama3.jpg"), "--db", str(db)), 5, "damaged",
                    "gallery check", "--repair", "delete the folder")
    _one_line_error(faceplay("gallery", "stats", "--db", str(db)), 5, "damaged")


def test_unreachable_milvus_uri(faces_dir):
    from faceplay.lookalike import open_gallery

    t0 = time.monotonic()
    with pytest.raises(StoreError, match="cannot reach Milvus"):
        open_gallery("http://127.0.0.1:9")  # nothing listens on the discard port
    assert time.monotonic() - t0 < 60
    _one_line_error(faceplay("lookalike", str(faces_dir / "obama3.jpg"), "--db", "http://127.0.0.1:9"), 5,
                    "cannot reach Milvus", "start the server")


def test_unknown_source_to_remove(photo_gallery):
    _one_line_error(faceplay("gallery", "remove", "/no/such/photo.jpg", "--db", str(photo_gallery)), 5, "no ingested file")


def test_killed_ingestion_keeps_every_finished_file_and_resumes(tmp_path, distractors_dir):
    """kill -9 during `gallery add`: the gallery opens, holds exactly the files that finished; a re-run completes it."""
    from faceplay.lookalike import open_gallery

    src = tmp_path / "src"
    src.mkdir()
    for p in sorted(distractors_dir.glob("*.jpg"))[1:600:25]:  # 24 real portraits
        os.symlink(p, src / p.name)
    db = tmp_path / "db"
    proc = subprocess.Popen([sys.executable, "-m", "faceplay.cli", "gallery", "add", str(src), "--db", str(db),
                             "--workers", "1", "--attributes", "lazy", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        done = 0
        while time.monotonic() - t0 < 120 and proc.poll() is None:
            try:
                with sqlite3.connect(f"file:{db / 'gallery.sqlite'}?mode=ro", uri=True, timeout=1) as c:
                    done = c.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            except sqlite3.Error:
                done = 0
            if done >= 4:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "ingestion finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with open_gallery(db) as store:
        files = store.files()
        assert 4 <= len(files) < 24
        assert store.count() == sum(f.n_faces for f in files)  # whole files only
        for f in files:
            assert store.has_file(f.content_hash)
        import numpy as np

        any_entry = store.get([store.search(np.ones(128, np.float32) / np.sqrt(128), 1)[0].id])[0]
        assert store.search(any_entry.embedding, 1)[0].id == any_entry.id  # searchable at once
        assert any_entry.thumbnail[:2] == b"\xff\xd8"  # a JPEG
        finished = len(files)
    res = faceplay("gallery", "add", str(src), "--db", str(db), "--workers", "1", "--attributes", "lazy", "--json")
    assert res.returncode == 0, res.stderr
    import json

    rep = json.loads(res.stdout.strip().splitlines()[-1])
    assert rep["files_skipped"] == finished and rep["files_added"] == 24 - finished
    with open_gallery(db) as store:
        assert len(store.files()) == 24 and store.count() == sum(f.n_faces for f in store.files())

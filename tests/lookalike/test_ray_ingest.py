"""``gallery add --engine ray`` on a real local Ray cluster (2 CPUs, loopback) gives what one machine gives;
a worker killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np

from faceplay.lookalike import Ingester, open_gallery
from tests.lookalike.conftest import HELD_OUT, RAY_OPTIONS, all_entries


def assert_same_gallery(entries: dict, reference: dict) -> None:
    """Same faces: ids (content hash + index / frame time), sources, times, embeddings within 1e-5."""
    assert len(entries) == len(reference)
    assert set(entries) == set(reference)
    for i, ref in reference.items():
        e = entries[i]
        assert (e.source, e.timestamp, e.file_hash) == (ref.source, ref.timestamp, ref.file_hash)
        assert np.abs(e.embedding - ref.embedding).max() <= 1e-5
        assert e.attributes == ref.attributes and e.thumbnail == ref.thumbnail


def lookalikes(store, face_source, faces_dir) -> dict:
    """The lookalike answers (re-ranked matches) for the held-out photos."""
    from faceplay.lookalike.search import LookalikeSearch
    from faceplay.media import read_image

    search = LookalikeSearch(store, face_source)
    return {ident: [m.entry.id for m in search.search(read_image(faces_dir / name)).top]
            for ident, name in sorted(HELD_OUT.items())[:3]}


def kill_one_worker_then_finish(ing, src) -> tuple:
    """Ingest with ``ing`` (a RayIngester), SIGKILL one worker after the first committed file; then run again."""
    killed: list[int] = []

    def kill(path, n_faces):
        if not killed:
            killed.append(ing.worker_pids[0])
            os.kill(ing.worker_pids[0], signal.SIGKILL)

    first = ing.add([src], progress=False, on_commit=kill)
    again = ing.add([src], progress=False)
    assert killed, "no worker was killed"
    return first, again


def test_ray_cli_gives_the_same_faces_as_one_machine(ray_address, ray_src, ray_reference, tmp_path, face_source,
                                                     faces_dir):
    ref_db, reference = ray_reference
    db = tmp_path / "db"
    res = subprocess.run([sys.executable, "-m", "faceplay.cli", "gallery", "add", str(ray_src), "--db", str(db),
                          "--engine", "ray", "--ray-address", ray_address, "--workers", "2", "--attributes", "lazy",
                          "--video-segment", "4", "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["files_added"] == report["files_seen"] == len(os.listdir(ray_src)) and not report["failed"]
    with open_gallery(db) as store, open_gallery(ref_db) as ref:
        assert_same_gallery(all_entries(store), reference)
        assert any(e.timestamp is not None and e.track_id >= 100_000 for e in reference.values()), \
            "the video was not cut into time ranges"
        assert lookalikes(store, face_source, faces_dir) == lookalikes(ref, face_source, faces_dir)


def test_killed_ray_worker_loses_and_duplicates_nothing(ray_address, ray_src, ray_reference, tmp_path, face_source):
    from faceplay.lookalike.ray_ingest import RayIngester

    _, reference = ray_reference
    with open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface") as store:
        ing = RayIngester(store, Ingester(store, face_source, **RAY_OPTIONS), address=ray_address, workers=2)
        first, again = kill_one_worker_then_finish(ing, ray_src)
        # Ray restarted the worker and re-ran its tasks; whatever it could not finish, the second run did
        assert first.files_added + len(first.failed) == first.files_seen
        assert again.files_added == len(first.failed) and again.files_skipped == first.files_added
        assert again.faces_added + first.faces_added == len(reference)
        assert store.count() == len(reference)
        assert_same_gallery(all_entries(store), reference)

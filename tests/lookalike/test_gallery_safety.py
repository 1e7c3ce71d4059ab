"""Issue 14: `gallery remove` removes exactly what it names, a damaged gallery says how to repair it,
and two concurrent `gallery add` runs do not both add the same files. All through the CLI on real photos."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import one_line_error
from tests.conftest import run_faceplay as faceplay

GAL = ["obama_obama.jpg", "biden_biden.jpg", "rose_leslie_img2.jpg", "two_people.jpg"]
GAL2 = ["kit_harington_john1.jpeg", "alex_lacamoire_img1.jpg"]


def last_json(res: subprocess.CompletedProcess) -> dict:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory, faces_dir: Path) -> tuple[Path, Path]:
    """(photo folder holding gal/ and gal2/, a gallery of both built by `gallery add`)."""
    root = tmp_path_factory.mktemp("safety")
    for sub, names in (("gal", GAL), ("gal2", GAL2)):
        (root / sub).mkdir()
        for n in names:
            shutil.copyfile(faces_dir / n, root / sub / n)
    db = root / "db"
    rep = last_json(faceplay("gallery", "add", str(root / "gal"), str(root / "gal2"), "--db", str(db),
                             "--workers", "1", "--json"))
    assert rep["files_added"] == len(GAL) + len(GAL2) and not rep["failed"]
    return root, db


@pytest.fixture()
def gallery(built, tmp_path) -> tuple[Path, Path, dict]:
    """A fresh copy of the built gallery (tests change it) and its stats."""
    root, db = built
    copy = tmp_path / "db"
    shutil.copytree(db, copy)
    return root, copy, last_json(faceplay("gallery", "stats", "--db", str(copy), "--files", "--json"))


def test_remove_never_matches_by_wildcard_or_case(gallery):
    root, db, stats = gallery
    for source in (str(root / "g_l"), "%", "_%", str(root / "GAL"), str(root / "gal" / "OBAMA_OBAMA.JPG"),
                   str(root / "ga%"), "gal_", str(root / "gal") + "%"):
        one_line_error(faceplay("gallery", "remove", source, "--db", str(db)), 5, "no ingested file matches")
    after = last_json(faceplay("gallery", "stats", "--db", str(db), "--files", "--json"))
    assert after["entries"] == stats["entries"] and after["file_list"] == stats["file_list"]  # nothing removed


def test_remove_file_folder_and_relative_path_exactly(gallery):
    root, db, stats = gallery
    faces = {Path(f["path"]).name: f["faces"] for f in stats["file_list"]}
    # one file, named relative to the working directory
    rep = last_json(faceplay("gallery", "remove", "gal/obama_obama.jpg", "--db", str(db), "--json", cwd=root))
    assert rep == {"removed": faces["obama_obama.jpg"], "gallery_entries": stats["entries"] - faces["obama_obama.jpg"]}
    # a folder: its files only, not those of the sibling folder gal2 that shares its name as a prefix
    rep = last_json(faceplay("gallery", "remove", str(root / "gal") + "/", "--db", str(db), "--json"))
    assert rep["removed"] == sum(faces[n] for n in GAL if n != "obama_obama.jpg")
    left = last_json(faceplay("gallery", "stats", "--db", str(db), "--files", "--json"))
    assert sorted(Path(f["path"]).name for f in left["file_list"]) == sorted(GAL2)
    assert left["entries"] == sum(faces[n] for n in GAL2)
    one_line_error(faceplay("gallery", "remove", "", "--db", str(db)), 2, "SOURCE is empty")


def _damage_a_face_page(db: Path) -> None:
    """Overwrite one b-tree leaf page of the faces table (not its root) with garbage, as a bad disk would."""
    path = db / "gallery.sqlite"
    with sqlite3.connect(path) as con:
        pages = [p for (p,) in con.execute("SELECT pageno FROM dbstat WHERE name='faces' AND pagetype='leaf'")]
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
    assert pages, "the faces table has no leaf page to damage"
    with open(path, "r+b") as f:
        f.seek((max(pages) - 1) * page_size)
        f.write(os.urandom(page_size))
    for cache in ("index.faiss", "index.json"):
        (db / cache).unlink(missing_ok=True)


def test_damaged_gallery_is_reported_and_repaired(gallery, faces_dir):
    root, db, stats = gallery
    _damage_a_face_page(db)
    query = str(root / "gal" / "obama_obama.jpg")
    one_line_error(faceplay("lookalike", query, "--db", str(db)), 5, "damaged",
                   f"faceplay gallery check --db {db} --repair")
    one_line_error(faceplay("gallery", "check", "--db", str(db)), 5, "damaged", "--repair")

    rep = last_json(faceplay("gallery", "check", "--db", str(db), "--repair", "--json"))
    assert rep["repaired"] and rep["ok"]
    n_files = len(GAL) + len(GAL2)
    assert 1 <= len(rep["dropped_files"]) < n_files and rep["kept_files"] == n_files - len(rep["dropped_files"])
    assert Path(rep["damaged_copy"]).is_file()  # the damaged database is kept, never deleted

    assert faceplay("gallery", "check", "--db", str(db)).returncode == 0
    res = faceplay("lookalike", query, "--db", str(db), "--json")
    assert res.returncode == 0, res.stderr
    # the dropped files are ingested again by a plain `gallery add` of the same folders
    again = last_json(faceplay("gallery", "add", str(root / "gal"), str(root / "gal2"), "--db", str(db), "--json"))
    assert again["files_added"] == len(rep["dropped_files"]) and again["files_skipped"] == rep["kept_files"]
    assert again["gallery_entries"] == stats["entries"]


def test_concurrent_adds_add_each_file_once(built, tmp_path):
    root, _ = built
    db = tmp_path / "db"
    cmd = [sys.executable, "-m", "faceplay.cli", "gallery", "add", str(root / "gal"), str(root / "gal2"),
           "--db", str(db), "--workers", "1", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    n_files = len(GAL) + len(GAL2)
    assert sorted(r["files_added"] for r in reports) == [0, n_files]  # one run added everything
    assert sorted(r["files_skipped"] for r in reports) == [0, n_files]  # the other found it done
    stats = last_json(faceplay("gallery", "stats", "--db", str(db), "--json"))
    assert stats["files"] == n_files and stats["entries"] == sum(r["faces_added"] for r in reports)


def test_remove_on_milvus_lite_matches_exactly(built, tmp_path):
    """The Milvus backend's `like` only narrows candidates; the same exact rule decides (milvus-lite FILE.db)."""
    pytest.importorskip("milvus_lite")
    root, _ = built
    db = str(tmp_path / "gallery.db")
    rep = last_json(faceplay("gallery", "add", str(root / "gal"), str(root / "gal2"), "--db", db, "--workers", "1",
                             "--json"))
    total = rep["gallery_entries"]
    for source in (str(root / "g_l"), "%", str(root / "GAL"), str(root / "ga%")):
        one_line_error(faceplay("gallery", "remove", source, "--db", db), 5, "no ingested file matches")
    rep = last_json(faceplay("gallery", "remove", str(root / "gal"), "--db", db, "--json"))
    left = last_json(faceplay("gallery", "stats", "--db", db, "--files", "--json"))
    assert rep["removed"] == total - left["entries"] and rep["removed"] > 0
    assert sorted(Path(f["path"]).name for f in left["file_list"]) == sorted(GAL2)

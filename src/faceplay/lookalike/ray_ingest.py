"""Gallery ingestion as a Ray job: ``faceplay gallery add SRC --engine ray [--ray-address ADDR]``.

The driver (this process) lists the files and owns the gallery; Ray actors
(one per worker CPU, each loading the face models once) do everything
else, with the same per-file code as the one-machine engines
(:class:`~faceplay.lookalike.ingest.Ingester`):

1. ``plan``: an actor hashes a batch of files and cuts each video into time
   ranges (:meth:`Ingester.plan`); the driver drops the files the gallery
   already holds (same content) or that appear twice in the run;
2. ``analyse``: an actor turns a batch of work units (photos, video ranges)
   into candidate entries: embedding, attributes, thumbnail, source, time;
3. the driver merges a file's units once they are all back
   (:meth:`Ingester.assemble`: dedupe, ids from content hash + frame time)
   and commits the file through the store interface, atomically per file.

A killed worker is restarted by Ray and its unfinished tasks run again
(``max_restarts`` / ``max_task_retries``); a file whose units cannot finish
is reported as failed and left out of the gallery, so running the same
command again completes it. Nothing is committed twice: a file is written
once, after its last unit, and skipped by every later run.

Without an address a local Ray is started on this machine (loopback only,
no dashboard, ``num_cpus`` = the cores available, at most 2 by default) and
stopped at the end; with ``--ray-address`` the job joins that cluster, whose
nodes must have faceplay installed and see the files at the same paths.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Callable, Iterable

from faceplay.errors import ConfigError, FaceplayError
from faceplay.lookalike.ingest import IngestReport, Ingester, WorkUnit, commit, media_files
from faceplay.lookalike.stores.base import GalleryStore

log = logging.getLogger(__name__)

PLAN_BATCH = 16  #: files hashed and planned per task
UNIT_BATCH = 2  #: photos analysed per task (a video range is always a task of its own)
IN_FLIGHT = 2  #: tasks queued per actor (the next one is ready when the current one ends)
MAX_RETRIES = 3  #: restarts of a dead actor, and re-runs of its unfinished tasks
LOCAL_OBJECT_STORE = 512 * 2**20  #: bytes of shared memory for the local Ray's objects (results are small)
LOCAL_CPUS = 2  #: CPUs of the Ray started on this machine when no --ray-address is given


def _ray():
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise ConfigError("--engine ray needs Ray; install it with `pip install -e .[ray]`") from exc
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at ``address``, or start a local one (loopback only). True when this call started Ray."""
    ray = _ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if address:
            ray.init(address=address, namespace="faceplay", log_to_driver=False, logging_level=logging.WARNING)
        else:
            cpus = num_cpus or max(1, min(LOCAL_CPUS, len(os.sched_getaffinity(0))))
            # address "local": a new Ray even where `ray start` left its address behind (ray_current_cluster)
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", namespace="faceplay",
                     object_store_memory=LOCAL_OBJECT_STORE, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ConfigError(f"cannot start or join {where} ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                          "check --ray-address (host:port of the head node; a cluster with token authentication also needs "
                          "RAY_AUTH_MODE=token and its token) or drop it to run Ray on this machine") from exc
    return True


def _worker_class():
    """The Ray actor class (built lazily: importing this module must not need Ray)."""
    ray = _ray()

    @ray.remote(num_cpus=1, max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES)
    class FaceWorker:
        """One analysis worker: a store-less :class:`Ingester` whose models load once per actor."""

        def __init__(self, settings: tuple) -> None:
            self.ing = Ingester.worker(*settings)

        def pid(self) -> int:
            return os.getpid()

        def plan(self, paths: list[str]) -> list[tuple[str, list[WorkUnit] | str]]:
            """(path, its work units) per file, or (path, error message) when it cannot be read."""
            from faceplay.lookalike.schema import file_hash

            out = []
            for p in paths:
                try:
                    out.append((p, self.ing.plan(Path(p), file_hash(p))))
                except (FaceplayError, OSError) as exc:
                    out.append((p, str(exc)))
            return out

        def analyse(self, units: list[WorkUnit]) -> list:
            """Candidate entries per unit, or the error message of a unit that failed."""
            out = []
            for u in units:
                try:
                    out.append(self.ing.analyse(u))
                except FaceplayError as exc:
                    out.append(str(exc))
            return out

        def close(self) -> None:
            self.ing.faces.close()

    return FaceWorker


class _File:
    """A file in flight: its units and the analysed parts received so far."""

    def __init__(self, path: str, units: list[WorkUnit]) -> None:
        self.path, self.units = path, units
        self.parts: list = [None] * len(units)
        self.left = len(units)
        self.error: str | None = None


class RayIngester:
    """Ingest with Ray actors into ``store`` (any :class:`GalleryStore`: folder, milvus-lite, Milvus server).

    ``template`` supplies the analysis settings (an :class:`Ingester`, normally
    built with the same options as the one-machine engine); ``workers`` caps
    the actors (default: one per CPU of the cluster).
    """

    def __init__(self, store: GalleryStore, template: Ingester, *, address: str | None = None,
                 workers: int | None = None, num_cpus: int | None = None) -> None:
        self.store, self.template = store, template
        self.address, self.workers, self.num_cpus = address, workers, num_cpus
        self.worker_pids: list[int] = []  #: process ids of the actors (known once :meth:`add` has started them)

    def add(self, paths: Iterable[str | os.PathLike], *, progress: bool = True,
            on_commit: Callable[[str, int], None] | None = None) -> IngestReport:
        """Ingest every image/video under ``paths``; ``on_commit(path, n_faces)`` is called after each commit."""
        from tqdm import tqdm

        ray = _ray()
        files = [str(p) for p in media_files(paths)]
        report = IngestReport(files_seen=len(files))
        t0 = time.perf_counter()
        started = connect(self.address, num_cpus=self.num_cpus)
        actors: list = []
        bar = tqdm(total=len(files), desc="gallery add (ray)", unit="file", disable=not progress, dynamic_ncols=True,
                   leave=False)
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n = max(1, min(self.workers or cpus, cpus, max(1, len(files))))
            cls, run = _worker_class(), uuid.uuid4().hex[:8]
            actors = [cls.options(name=f"faceplay-ingest-{run}-{i}").remote(self.template.settings()) for i in range(n)]
            self.worker_pids = ray.get([a.pid.remote() for a in actors])
            log.info("ingesting %d files with %d Ray workers", len(files), n)
            self._run(ray, actors, files, report, bar, on_commit)
        finally:
            bar.close()
            for a in actors:
                try:
                    ray.get(a.close.remote(), timeout=30)
                except Exception:  # a worker that is gone has nothing left to close
                    pass
                ray.kill(a)
            if started:
                ray.shutdown()
        self.store.flush()
        report.seconds = time.perf_counter() - t0
        return report

    # -- the scheduler ---------------------------------------------------------
    def _run(self, ray, actors: list, files: list[str], report: IngestReport, bar, on_commit) -> None:
        to_plan = deque(files[i:i + PLAN_BATCH] for i in range(0, len(files), PLAN_BATCH))
        ready: deque[list[WorkUnit]] = deque()  # batches of units waiting for a worker
        open_files: dict[str, _File] = {}  # content hash -> file in flight
        inflight: dict = {}  # object ref -> (actor index, "plan" | "analyse", payload)
        load = [0] * len(actors)

        def submit() -> None:
            while True:
                i = min(range(len(actors)), key=load.__getitem__)
                if load[i] >= IN_FLIGHT:
                    return
                if ready and (len(ready) >= len(actors) or not to_plan):
                    batch = ready.popleft()
                    inflight[actors[i].analyse.remote(batch)] = (i, "analyse", batch)
                elif to_plan:
                    batch = to_plan.popleft()
                    inflight[actors[i].plan.remote(batch)] = (i, "plan", batch)
                else:
                    return
                load[i] += 1

        submit()
        while inflight:
            done, _ = ray.wait(list(inflight), num_returns=1)
            ref = done[0]
            i, kind, batch = inflight.pop(ref)
            load[i] -= 1
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # a bug in the analysis, not a lost worker
                result = [f"analysis failed ({type(exc.cause).__name__}: {str(exc.cause)[:160]})"] * len(batch)
            except Exception as exc:  # the actor died more often than Ray retries, or Ray lost the task
                msg = f"Ray worker lost ({type(exc).__name__}); run the same command again to finish it"
                result = [msg] * len(batch)
                log.warning("%s", msg)
            if kind == "plan":
                if isinstance(result, list) and result and isinstance(result[0], str):  # the whole task failed
                    result = [(p, result[0]) for p in batch]
                self._planned(result, report, bar, open_files, ready)
            else:
                self._analysed(batch, result, report, bar, open_files, on_commit)
            submit()

    def _planned(self, planned, report: IngestReport, bar, open_files: dict, ready: deque) -> None:
        photos: list[WorkUnit] = []
        for path, units in planned:
            if isinstance(units, str):
                self._failed(report, bar, path, units)
                continue
            h = units[0].content_hash
            if h in open_files or self.store.has_file(h):  # same content already in the gallery or in this run
                report.files_skipped += 1
                bar.update(1)
                continue
            open_files[h] = _File(path, units)
            for u in units:
                if u.kind == "image":
                    photos.append(u)
                else:
                    ready.append([u])
        ready.extend(photos[i:i + UNIT_BATCH] for i in range(0, len(photos), UNIT_BATCH))

    def _analysed(self, units: list[WorkUnit], parts: list, report: IngestReport, bar, open_files: dict,
                  on_commit) -> None:
        for u, part in zip(units, parts):
            f = open_files.get(u.content_hash)
            if f is None:
                continue
            if isinstance(part, str):
                f.error = f.error or part
            else:
                f.parts[u.index] = part
            f.left -= 1
            if f.left:
                continue
            del open_files[u.content_hash]
            if f.error:
                self._failed(report, bar, f.path, f.error)
                continue
            record, entries = self.template.assemble(f.units, f.parts)
            bar.update(1)
            if not commit(self.store, record, entries, report):  # another run committed this content meanwhile
                continue
            bar.set_postfix(faces=report.faces_added)
            if on_commit is not None:
                on_commit(f.path, len(entries))

    @staticmethod
    def _failed(report: IngestReport, bar, path: str, message: str) -> None:
        log.warning("skipping %s: %s", path, message)
        report.failed.append((path, message))
        bar.update(1)

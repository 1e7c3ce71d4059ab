"""Background jobs (video effects, gallery ingestion): id, progress, result, download.

Jobs run one at a time on a dedicated thread; each has a folder
``data_dir/jobs/<id>/`` for its output. Ids are 32 hex digits made by the
server; anything else is rejected before it is looked up.

Limits: at most ``max_queued`` jobs wait behind the running one (more get
429 with ``Retry-After``); a finished job and its folder are kept for
``retention_seconds`` and among the last ``keep``. A job's input uploads
(``inputs``) are deleted when it ends, fails or is cancelled. Jobs live in
memory, so nothing of them is worth keeping across a restart: job folders and
staged uploads are removed at shut-down and, after a crash, at the next start.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from faceplay.errors import FaceplayError
from faceplay.web.errors import HTTPError, public_message, status_for
from faceplay.web.uploads import check_hex_id

log = logging.getLogger(__name__)
_JOB_DIR = re.compile(r"^[0-9a-f]{32}$")
#: video uploads of older versions, saved straight into uploads/ (job inputs, never gallery files)
_LEGACY_UPLOAD = re.compile(r"^[0-9a-f]{32}\.(mp4|webm|avi)$")


@dataclass
class Job:
    """One background job as the API reports it."""

    id: str
    kind: str
    folder: Path
    status: str = "queued"  #: queued | running | done | failed | cancelled
    progress: float = 0.0  #: 0..1
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    output: Path | None = None
    media_type: str = "application/octet-stream"
    error: str | None = None
    error_status: int | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    inputs: list[Path] = field(default_factory=list, repr=False)  #: uploads deleted when the job ends
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def check(self) -> None:
        """Raise when the server is shutting down (job functions call it per frame / file)."""
        if self.stop.is_set():
            raise HTTPError(503, "the server shut down before the job finished; submit it again")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "status": self.status, "progress": round(self.progress, 4),
            "message": self.message, "result": self.result, "error": self.error,
            "status_url": f"/api/jobs/{self.id}",
        }
        if self.status == "done" and self.output is not None:
            d["download_url"] = f"/api/jobs/{self.id}/download"
        return d

    def remove_inputs(self) -> None:
        for p in self.inputs:
            try:
                p.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not delete the upload %s: %s", p.name, exc)


class JobManager:
    """Runs job functions ``fn(job) -> result dict`` in the background, one at a time."""

    def __init__(self, root: Path, keep: int = 50, *, max_queued: int = 8, retention_seconds: float = 3600.0,
                 staging: Path | None = None) -> None:
        self.root = root
        self.keep = keep
        self.max_queued = max_queued
        self.retention = retention_seconds
        self.staging = staging
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="faceplay-jobs")
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self._durations: list[float] = []

    # -- admission -----------------------------------------------------------
    def queued(self) -> int:
        """Jobs accepted but not started yet."""
        return sum(1 for j in self.jobs.values() if j.status == "queued")

    def _full(self) -> bool:
        """One job runs and ``max_queued`` wait: is there no room for another? (lock held)"""
        active = sum(1 for j in self.jobs.values() if j.status in ("queued", "running"))
        return active >= self.max_queued + 1

    def retry_after(self) -> int:
        """Seconds until a queue slot is likely free (from the recent job durations)."""
        recent = self._durations[-10:]
        per_job = sum(recent) / len(recent) if recent else 30.0
        return int(min(3600, max(5, round(per_job))))

    def check_capacity(self) -> None:
        """429 with ``Retry-After`` when the queue is full (call before saving an upload)."""
        with self.lock:
            full = self._full()
        if full:
            wait = self.retry_after()
            raise HTTPError(429, f"the job queue is full ({self.max_queued} jobs waiting); try again in about "
                                 f"{wait} s", headers={"Retry-After": str(wait)})

    def submit(self, kind: str, fn: Callable[[Job], dict[str, Any]], inputs: list[Path] | None = None) -> Job:
        """Queue ``fn``; its ``inputs`` are deleted when it ends (also now, when the queue is full: 429)."""
        jid = uuid.uuid4().hex
        job = Job(id=jid, kind=kind, folder=self.root / jid, inputs=list(inputs or []))
        try:
            with self.lock:
                self._prune()
                if self._full():
                    wait = self.retry_after()
                    raise HTTPError(429, f"the job queue is full ({self.max_queued} jobs waiting); try again in "
                                         f"about {wait} s", headers={"Retry-After": str(wait)})
                job.folder.mkdir(parents=True, exist_ok=True)
                self.jobs[jid] = job
            self.pool.submit(self._run, job, fn)
        except BaseException:
            job.remove_inputs()
            with self.lock:
                self.jobs.pop(jid, None)
            shutil.rmtree(job.folder, ignore_errors=True)
            raise
        log.info("job %s (%s) queued", jid, kind)
        return job

    # -- running -------------------------------------------------------------
    def _run(self, job: Job, fn: Callable[[Job], dict[str, Any]]) -> None:
        if job.stop.is_set():  # cancelled while queued
            self._cancel(job)
            return
        job.status = "running"
        t0 = time.perf_counter()
        try:
            job.result = fn(job) or {}
            job.progress = 1.0
            job.status = "done"
            job.message = "finished"
        except FaceplayError as exc:
            job.status, job.error, job.error_status = "failed", public_message(str(exc)), status_for(exc)
            log.warning("job %s failed: %s", job.id, exc)
        except HTTPError as exc:
            job.status, job.error, job.error_status = "failed", public_message(exc.message), exc.status
        except Exception as exc:  # noqa: BLE001 - a job must never take the server down
            job.status, job.error_status = "failed", 500
            job.error = f"internal error ({type(exc).__name__}); see the server log"
            log.exception("job %s crashed", job.id)
        finally:
            job.remove_inputs()
            job.finished = time.time()
            dt = time.perf_counter() - t0
            self._durations = (self._durations + [dt])[-20:]
            log.info("job %s %s in %.1f s", job.id, job.status, dt)

    def _cancel(self, job: Job) -> None:
        job.status, job.error, job.error_status = "cancelled", "the server shut down before the job started", 503
        job.finished = time.time()
        job.remove_inputs()

    def get(self, jid: str) -> Job:
        """The job ``jid`` (400 for a malformed id, 404 when unknown or expired)."""
        check_hex_id(jid, 32, "job id")
        with self.lock:
            self._prune()
            job = self.jobs.get(jid)
        if job is None:
            raise HTTPError(404, f"no job {jid}; it may have expired (finished jobs are kept "
                                 f"{self.retention / 60:.0f} min, at most the last {self.keep})")
        return job

    def _prune(self) -> None:
        """Forget finished jobs past the retention time or beyond ``keep``, with their folders (lock held)."""
        now = time.time()
        done = sorted((j for j in self.jobs.values() if j.finished is not None), key=lambda j: j.finished)
        old = [j for j in done if now - j.finished > self.retention]
        extra = done[: max(0, len(self.jobs) - self.keep)]
        for j in {j.id: j for j in old + extra}.values():
            self.jobs.pop(j.id, None)
            shutil.rmtree(j.folder, ignore_errors=True)

    # -- disk ----------------------------------------------------------------
    def clean_disk(self) -> int:
        """Remove job folders and staged uploads that no job of this process owns. Returns how many."""
        with self.lock:
            mine = set(self.jobs)
            inputs = {p for j in self.jobs.values() for p in j.inputs}
        n = 0
        if self.root.is_dir():
            for d in self.root.iterdir():
                if _JOB_DIR.match(d.name) and d.name not in mine:
                    if d.is_dir():
                        shutil.rmtree(d, ignore_errors=True)
                    else:
                        d.unlink(missing_ok=True)
                    n += 1
        if self.staging is not None and self.staging.is_dir():
            for f in self.staging.iterdir():
                if f.is_file() and f not in inputs:
                    f.unlink(missing_ok=True)
                    n += 1
        if self.staging is not None and self.staging.parent.is_dir():
            for f in self.staging.parent.iterdir():
                if f.is_file() and _LEGACY_UPLOAD.match(f.name):
                    f.unlink(missing_ok=True)
                    n += 1
        if n:
            log.info("removed %d left-over job folders / uploads", n)
        return n

    def close(self) -> None:
        """Stop: queued jobs are cancelled, a running one stops at its next frame / file; every job
        folder and staged upload is removed (jobs do not survive a restart)."""
        for j in list(self.jobs.values()):
            j.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="faceplay-jobs")  # usable again after a restart
        with self.lock:
            for j in self.jobs.values():
                if j.status == "queued":
                    self._cancel(j)
            self.jobs.clear()
        self.clean_disk()

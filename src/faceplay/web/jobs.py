"""Background jobs (video effects, gallery ingestion): id, progress, result, download.

Jobs run one at a time on a dedicated thread; each has a folder
``data_dir/jobs/<id>/`` for its output. Ids are 32 hex digits made by the
server; anything else is rejected before it is looked up.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from faceplay.errors import FaceplayError
from faceplay.web.errors import HTTPError, status_for
from faceplay.web.uploads import check_hex_id

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One background job as the API reports it."""

    id: str
    kind: str
    folder: Path
    status: str = "queued"  #: queued | running | done | failed
    progress: float = 0.0  #: 0..1
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    output: Path | None = None
    media_type: str = "application/octet-stream"
    error: str | None = None
    error_status: int | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
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


class JobManager:
    """Runs job functions ``fn(job) -> result dict`` in the background."""

    def __init__(self, root: Path, keep: int = 50) -> None:
        self.root = root
        self.keep = keep
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="faceplay-jobs")
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def submit(self, kind: str, fn: Callable[[Job], dict[str, Any]]) -> Job:
        jid = uuid.uuid4().hex
        job = Job(id=jid, kind=kind, folder=self.root / jid)
        job.folder.mkdir(parents=True, exist_ok=True)
        with self.lock:
            self.jobs[jid] = job
            self._prune()
        self.pool.submit(self._run, job, fn)
        log.info("job %s (%s) queued", jid, kind)
        return job

    def _run(self, job: Job, fn: Callable[[Job], dict[str, Any]]) -> None:
        job.status = "running"
        t0 = time.perf_counter()
        try:
            job.result = fn(job) or {}
            job.progress = 1.0
            job.status = "done"
            job.message = "finished"
        except FaceplayError as exc:
            job.status, job.error, job.error_status = "failed", str(exc), status_for(exc)
            log.warning("job %s failed: %s", job.id, exc)
        except HTTPError as exc:
            job.status, job.error, job.error_status = "failed", exc.message, exc.status
        except Exception as exc:  # noqa: BLE001 - a job must never take the server down
            job.status, job.error, job.error_status = "failed", f"internal error: {type(exc).__name__}: {exc}", 500
            log.exception("job %s crashed", job.id)
        finally:
            job.finished = time.time()
            log.info("job %s %s in %.1f s", job.id, job.status, time.perf_counter() - t0)

    def get(self, jid: str) -> Job:
        check_hex_id(jid, 32, "job id")
        job = self.jobs.get(jid)
        if job is None:
            raise HTTPError(404, f"no job {jid}; it may have expired (the server keeps the last {self.keep})")
        return job

    def _prune(self) -> None:
        done = [j for j in self.jobs.values() if j.status in ("done", "failed")]
        for j in sorted(done, key=lambda j: j.created)[: max(0, len(self.jobs) - self.keep)]:
            self.jobs.pop(j.id, None)
            shutil.rmtree(j.folder, ignore_errors=True)

    def close(self) -> None:
        """Stop: queued jobs are cancelled, a running one stops at its next frame / file."""
        for j in list(self.jobs.values()):
            j.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="faceplay-jobs")  # usable again after a restart

"""The REST API's background jobs: video effects, gallery ingestion, job status and download.

Uploads a job needs are staged in ``uploads/incoming/`` and belong to the job:
they are deleted when it ends, fails or is cancelled (see :mod:`faceplay.web.jobs`).
A full queue answers 429 with ``Retry-After`` before the upload is copied.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from faceplay.web.effects import build_rig
from faceplay.web.api import ERROR_RESPONSES as API_ERRORS
from faceplay.web.api import _engines
from faceplay.web.engines import require
from faceplay.web.errors import HTTPError, public_message
from faceplay.web.jobs import Job, JobManager
from faceplay.web.uploads import (
    IMAGE_TYPES,
    VIDEO_TYPES,
    check_content_type,
    check_video_bytes,
    decode_image,
    display_name,
    new_upload_path,
    sniff,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **API_ERRORS, 429: {"description": "The job queue is full; retry after the Retry-After header's seconds"},
}


def _jobs(request: Request) -> JobManager:
    return request.app.state.jobs


async def _save_video(request: Request, upload: UploadFile, field_name: str = "file") -> Path:
    """Check and stage a video upload for a job (the job deletes it when it ends)."""
    check_content_type(upload.content_type, "video", field_name)
    head = await upload.read(64)
    fmt = check_video_bytes(head, field_name)
    await upload.seek(0)
    dst = new_upload_path(request.app.state.settings.staging_dir, fmt)
    try:
        with dst.open("wb") as f:
            await run_in_threadpool(shutil.copyfileobj, upload.file, f, 1 << 20)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return dst


def _video_loop(job: Job, src: Path, dst: Path, max_seconds: float, effect, state) -> dict[str, Any]:
    """Decode → track → effect → encode, with progress; keeps the audio (the writer opens on the first output frame)."""
    from faceplay.errors import InputError
    from faceplay.face.track import FaceTracker
    from faceplay.media.video import VideoReader, VideoWriter

    writer = None
    try:
        with VideoReader(src) as reader:
            total = reader.frame_count or 0
            if reader.fps and total / reader.fps > max_seconds:
                raise InputError(f"the video is {total / reader.fps:.0f} s long, over the {max_seconds:.0f} s limit; "
                                 "trim it first")
            n = with_faces = 0
            try:
                with FaceTracker(max_faces=3) as tracker:
                    for frame in reader:
                        job.check()
                        faces = tracker.update(frame.rgb, frame.timestamp)
                        out = effect(frame.rgb, faces, state)
                        if writer is None:
                            writer = VideoWriter(dst, reader.fps, out.shape[1], out.shape[0],
                                                 audio_from=src if reader.has_audio else None)
                        writer.write(out)
                        n += 1
                        with_faces += bool(faces)
                        job.progress = min(0.99, n / total) if total else 0.5
                        job.message = f"frame {n}" + (f" of {total}" if total else "")
                if writer is None:
                    raise InputError("the video has no frames")
                writer.close()
                job.output, job.media_type = dst, "video/mp4"
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
    finally:
        src.unlink(missing_ok=True)
    return {"frames": n, "frames_with_faces": with_faces}


# -- video effects -------------------------------------------------------------
@router.post("/relight/video", tags=["relight"], status_code=202, responses=ERROR_RESPONSES)
async def relight_video(
    request: Request,
    file: Annotated[UploadFile, File(description="a video (MP4, MOV, WebM, AVI)")],
    preset: Annotated[str, Form(max_length=40)] = "studio",
    az: Annotated[float | None, Form()] = None,
    el: Annotated[float | None, Form()] = None,
    color: Annotated[str | None, Form(max_length=9)] = None,
    intensity: Annotated[float | None, Form()] = None,
    strength: Annotated[float, Form(ge=0.0, le=1.0)] = 0.8,
) -> JSONResponse:
    """Relight a video in the background; answers a job (poll ``status_url``, then ``download_url``)."""
    require("relight")
    rig = build_rig(preset, az, el, color, intensity)
    _jobs(request).check_capacity()
    src = await _save_video(request, file)
    max_s = request.app.state.settings.max_video_seconds

    def run(job: Job) -> dict[str, Any]:
        from faceplay.relight.relighter import Relighter, RelightState

        dst = job.folder / "relit.mp4"
        with Relighter(video=True) as r:
            return _video_loop(job, src, dst, max_s, lambda rgb, faces, st: r.relight(rgb, faces, rig, strength, state=st).image,
                               RelightState())

    job = _jobs(request).submit("relight_video", run, inputs=[src])
    return JSONResponse(job.to_dict(), status_code=202)


@router.post("/avatar/video", tags=["avatar"], status_code=202, responses=ERROR_RESPONSES)
async def avatar_video(
    request: Request,
    file: Annotated[UploadFile, File(description="a video (MP4, MOV, WebM, AVI)")],
    avatar: Annotated[str, Form(max_length=40)] = "auto",
    mode: Annotated[str, Form(max_length=20)] = "replace",
) -> JSONResponse:
    """Drive an avatar with a video in the background; answers a job."""
    require("avatar")
    from faceplay.web import avatar_glue

    avatar_glue.check_choice(avatar, mode)
    _jobs(request).check_capacity()
    src = await _save_video(request, file)
    max_s = request.app.state.settings.max_video_seconds
    eng = _engines(request)

    def attributes(rgb, faces):
        from faceplay.avatar.configure import ATTRIBUTE_FIELDS

        eng.complete(rgb, faces, ATTRIBUTE_FIELDS)

    def run(job: Job) -> dict[str, Any]:
        with avatar_glue.LiveAvatar(avatar, mode, attributes, samples=avatar_glue.PHOTO_SAMPLES) as sess:
            return _video_loop(job, src, job.folder / "avatar.mp4", max_s, lambda rgb, faces, st: sess.frame(rgb, faces), None)

    job = _jobs(request).submit("avatar_video", run, inputs=[src])
    return JSONResponse(job.to_dict(), status_code=202)


# -- gallery ingestion -----------------------------------------------------------
@router.post("/gallery/add", tags=["gallery"], status_code=202, responses=ERROR_RESPONSES)
async def gallery_add(
    request: Request,
    files: Annotated[list[UploadFile], File(description="photos and/or videos")],
) -> JSONResponse:
    """Add photos / videos to the gallery in the background; answers a job with per-file progress."""
    require("lookalike")
    if not files:
        raise HTTPError(400, "send at least one photo or video in the 'files' field")
    if len(files) > 200:
        raise HTTPError(400, f"at most 200 files per request, got {len(files)}")
    _jobs(request).check_capacity()
    settings = request.app.state.settings
    staged: list[Path] = []
    try:
        for i, up in enumerate(files):
            field_name = f"files[{i}]"
            ct = (up.content_type or "").split(";")[0].lower()
            head = await up.read(64)
            fmt = sniff(head)
            kind = "image" if fmt in IMAGE_TYPES else "video" if fmt in VIDEO_TYPES else None
            if kind is None:
                raise HTTPError(415, f"{field_name} ({display_name(up.filename, 'upload')}): not a photo or video "
                                     "(JPEG, PNG, WebP, BMP, MP4, MOV, WebM, AVI)")
            if ct and ct != "application/octet-stream":
                check_content_type(ct, kind, field_name)
            await up.seek(0)
            data = await up.read()
            if kind == "image":
                await run_in_threadpool(decode_image, data, settings.max_image_pixels, field_name)
            base = new_upload_path(settings.staging_dir, fmt)
            dst = base.with_name(f"{base.stem[:8]}_{display_name(up.filename, 'upload' + base.suffix)}")
            if dst.suffix.lower() != base.suffix:
                dst = dst.with_name(dst.name + base.suffix)
            dst.write_bytes(data)
            staged.append(dst)
    except BaseException:
        for p in staged:
            p.unlink(missing_ok=True)
        raise
    eng = _engines(request)
    uploads = settings.uploads_dir

    def run(job: Job) -> dict[str, Any]:
        from faceplay.lookalike.ingest import Ingester

        totals = {"files_added": 0, "files_skipped": 0, "faces_added": 0, "failed": []}
        for k, pending in enumerate(staged):
            job.check()
            job.message = f"file {k + 1} of {len(staged)}: {pending.name}"
            path = uploads / pending.name  # the gallery keeps the file it was built from
            pending.replace(path)

            def one(p=path):
                store = eng.store(create=True)
                return Ingester(store, eng.gallery_faces()).add([p], progress=False)

            try:
                rep = eng.gallery_pool.submit(one).result()
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            totals["files_added"] += rep.files_added
            totals["files_skipped"] += rep.files_skipped
            totals["faces_added"] += rep.faces_added
            totals["failed"] += [{"name": Path(p).name, "error": public_message(m)} for p, m in rep.failed]
            if not rep.files_added:  # already in the gallery under its first upload, or unusable
                path.unlink(missing_ok=True)
            job.progress = (k + 1) / len(staged)
        totals["gallery_entries"] = eng.gallery_pool.submit(lambda: eng.store(create=True).count()).result()
        return totals

    job = _jobs(request).submit("gallery_add", run, inputs=staged)
    return JSONResponse(job.to_dict(), status_code=202)


# -- jobs --------------------------------------------------------------------
@router.get("/jobs/{job_id}", tags=["jobs"], responses=ERROR_RESPONSES)
async def job_status(request: Request, job_id: str) -> dict[str, Any]:
    """Status, progress and (when done) the download URL of a background job."""
    return _jobs(request).get(job_id).to_dict()


@router.get("/jobs/{job_id}/download", tags=["jobs"], responses={**ERROR_RESPONSES, 409: {"description": "not finished"}})
async def job_download(request: Request, job_id: str) -> FileResponse:
    """The output file of a finished job."""
    job = _jobs(request).get(job_id)
    if job.status in ("failed", "cancelled"):
        raise HTTPError(job.error_status if job.error_status and job.error_status < 500 else 409,
                        f"the job {job.status}: {job.error}")
    if job.status != "done" or job.output is None:
        raise HTTPError(409, f"job {job_id} is {job.status} ({job.progress:.0%}); poll {job.to_dict()['status_url']}")
    if not job.output.exists():
        raise HTTPError(410, "the job's output was removed; submit the job again")
    return FileResponse(job.output, media_type=job.media_type, filename=job.output.name)

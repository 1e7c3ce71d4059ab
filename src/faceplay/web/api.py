"""The REST API (``/api/...``): thin handlers over the public Python API.

Every handler validates its upload (:mod:`faceplay.web.uploads`), runs the
model work off the event loop, and answers JSON (or an image). Errors are
``{"error": message}`` with a 4xx status (see :mod:`faceplay.web.app`).
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

import faceplay
from faceplay.web.effects import build_rig, encode_image
from faceplay.web.engines import Engines, feature_available, require
from faceplay.web.errors import HTTPError
from faceplay.web.jobs import Job, JobManager
from faceplay.web.uploads import (
    VIDEO_TYPES,
    check_content_type,
    check_hex_id,
    check_video_bytes,
    decode_image,
    display_name,
    new_upload_path,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

FIELD_CHOICES = ("embedding", "age", "gender", "expression", "skin_tone", "face_shape", "quality", "attributes", "all")
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (JSON: error)"},
    401: {"description": "Missing or wrong bearer token"},
    413: {"description": "Upload or image too large"},
    415: {"description": "Not an image / video"},
    422: {"description": "Undecodable image, no face, or invalid field"},
}


def _engines(request: Request) -> Engines:
    return request.app.state.engines


def _jobs(request: Request) -> JobManager:
    return request.app.state.jobs


async def _image(request: Request, upload: UploadFile, field_name: str = "file"):
    check_content_type(upload.content_type, "image", field_name)
    data = await upload.read()
    settings = request.app.state.settings
    return await run_in_threadpool(decode_image, data, settings.max_image_pixels, field_name)


async def _save_video(request: Request, upload: UploadFile, field_name: str = "file") -> Path:
    check_content_type(upload.content_type, "video", field_name)
    head = await upload.read(64)
    fmt = check_video_bytes(head, field_name)
    await upload.seek(0)
    dst = new_upload_path(request.app.state.settings.uploads_dir, fmt)
    with dst.open("wb") as f:
        await run_in_threadpool(shutil.copyfileobj, upload.file, f, 1 << 20)
    return dst


def _parse_fields(fields: str) -> list[str]:
    out = [f.strip() for f in fields.split(",") if f.strip()]
    bad = [f for f in out if f not in FIELD_CHOICES]
    if bad:
        raise HTTPError(400, f"unknown field(s) {', '.join(repr(b[:30]) for b in bad[:3])}; choose from "
                             f"{', '.join(FIELD_CHOICES)}")
    return out


def _faces_or_422(faces: list, what: str = "the image") -> list:
    if not faces:
        raise HTTPError(422, f"no face found in {what}; use a photo where the face is clearly visible, "
                             "frontal and at least ~40 pixels wide")
    return faces


# -- health ------------------------------------------------------------------
@router.get("/health", tags=["meta"])
async def health(request: Request) -> dict[str, Any]:
    """Liveness, version and which features this build has."""
    return {
        "status": "ok",
        "version": faceplay.__version__,
        "features": {name: feature_available(name) for name in ("avatar", "relight", "lookalike")},
        "live_sessions": request.app.state.live_sessions,
        "limits": {"max_upload_bytes": request.app.state.settings.max_upload_bytes,
                   "max_image_pixels": request.app.state.settings.max_image_pixels},
    }


# -- faces -------------------------------------------------------------------
@router.post("/analyze", tags=["faces"], responses=ERROR_RESPONSES)
async def analyze(
    request: Request,
    file: Annotated[UploadFile, File(description="a photo (JPEG, PNG, WebP, BMP)")],
    fields: Annotated[str, Query(max_length=200, description="comma list: " + ", ".join(FIELD_CHOICES))] = "attributes",
    landmarks: Annotated[bool, Query(description="include the 478 landmarks")] = False,
) -> dict[str, Any]:
    """Every face of a photo (largest first) with box, pose, blendshapes and the requested attributes."""
    wanted = _parse_fields(fields)
    rgb = await _image(request, file)
    faces = await run_in_threadpool(_engines(request).analyze, rgb, wanted)
    _faces_or_422(faces)
    emb = "embedding" in wanted or "all" in wanted
    return {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
            "faces": [f.to_dict(embedding=emb, landmarks=landmarks) for f in faces]}


@router.post("/verify", tags=["faces"], responses=ERROR_RESPONSES)
async def verify(
    request: Request,
    a: Annotated[UploadFile, File(description="first photo")],
    b: Annotated[UploadFile, File(description="second photo")],
) -> dict[str, Any]:
    """Are the largest faces of two photos the same person?"""
    ra = await _image(request, a, "a")
    rb = await _image(request, b, "b")
    v = await run_in_threadpool(_engines(request).verify, ra, rb)
    return v.to_dict()


# -- relight -----------------------------------------------------------------
@router.get("/relight/presets", tags=["relight"])
async def relight_presets() -> dict[str, Any]:
    """The named light rigs."""
    require("relight")
    from faceplay.relight.lights import PRESETS

    return {"presets": [{"name": r.name, "description": r.description} for r in PRESETS.values()]}


def _rig_args(preset: str | None, az: float | None, el: float | None, color: str | None, intensity: float | None):
    require("relight")
    return build_rig(preset, az, el, color, intensity)


@router.post("/relight", tags=["relight"], responses={**ERROR_RESPONSES, 200: {"content": {"image/jpeg": {}, "image/png": {}}}})
async def relight_photo(
    request: Request,
    file: Annotated[UploadFile, File(description="a portrait photo")],
    preset: Annotated[str, Form(max_length=40)] = "studio",
    az: Annotated[float | None, Form(description="key light azimuth -90..90 (overrides the preset)")] = None,
    el: Annotated[float | None, Form(description="key light elevation -60..80")] = None,
    color: Annotated[str | None, Form(max_length=9, description="key light colour #rrggbb")] = None,
    intensity: Annotated[float | None, Form(description="key light intensity 0..3")] = None,
    strength: Annotated[float, Form(ge=0.0, le=1.0)] = 0.8,
    format: Annotated[str, Form(pattern="^(jpeg|png)$")] = "jpeg",
) -> Response:
    """Relight a portrait photo; answers the relit image."""
    rig = _rig_args(preset, az, el, color, intensity)
    rgb = await _image(request, file)
    eng = _engines(request)
    faces = _faces_or_422(await run_in_threadpool(eng.analyze, rgb, ()))

    def work():
        return eng.relighter().relight(rgb, faces, rig, strength).image

    out = await eng.on_gl(work)
    data = await run_in_threadpool(encode_image, out, format)
    return Response(data, media_type=f"image/{format}",
                    headers={"Content-Disposition": f'attachment; filename="relit.{"jpg" if format == "jpeg" else "png"}"'})


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
    rig = _rig_args(preset, az, el, color, intensity)
    src = await _save_video(request, file)
    max_s = request.app.state.settings.max_video_seconds

    def run(job: Job) -> dict[str, Any]:
        from faceplay.relight.relighter import Relighter, RelightState

        dst = job.folder / "relit.mp4"
        with Relighter(video=True) as r:
            return _video_loop(job, src, dst, max_s, lambda rgb, faces, st: r.relight(rgb, faces, rig, strength, state=st).image,
                               RelightState())

    job = _jobs(request).submit("relight_video", run)
    return JSONResponse(job.to_dict(), status_code=202)


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


# -- avatar ------------------------------------------------------------------
@router.get("/avatar/avatars", tags=["avatar"])
async def avatar_list() -> dict[str, Any]:
    """The built-in avatars and render modes."""
    require("avatar")
    from faceplay.web import avatar_glue

    return avatar_glue.catalogue()


@router.post("/avatar", tags=["avatar"], responses={**ERROR_RESPONSES, 200: {"content": {"image/jpeg": {}, "image/png": {}}}})
async def avatar_photo(
    request: Request,
    file: Annotated[UploadFile, File(description="a photo with a face")],
    avatar: Annotated[str, Form(max_length=40, description="avatar name, or 'auto' (suggested from the face)")] = "auto",
    mode: Annotated[str, Form(max_length=20, description="render mode")] = "replace",
    format: Annotated[str, Form(pattern="^(jpeg|png)$")] = "jpeg",
) -> Response:
    """Replace the head in a photo by a cartoon avatar; answers the image."""
    require("avatar")
    from faceplay.web import avatar_glue

    avatar_glue.check_choice(avatar, mode)
    rgb = await _image(request, file)
    eng = _engines(request)
    faces = _faces_or_422(await run_in_threadpool(eng.analyze, rgb, ("age", "gender", "skin_tone", "face_shape")))
    out = await eng.on_gl(avatar_glue.photo, rgb, faces, avatar, mode)
    data = await run_in_threadpool(encode_image, out, format)
    return Response(data, media_type=f"image/{format}")


@router.post("/avatar/suggest", tags=["avatar"], responses=ERROR_RESPONSES)
async def avatar_suggest(
    request: Request,
    file: Annotated[UploadFile, File(description="a photo (or camera frame) of the person")],
) -> dict[str, Any]:
    """The avatar and options suggested by the largest face's attributes (gender, age, skin tone, face shape)."""
    require("avatar")
    from faceplay.web import avatar_glue

    rgb = await _image(request, file)
    faces = _faces_or_422(await run_in_threadpool(_engines(request).analyze, rgb, ("age", "gender", "skin_tone", "face_shape")))
    return avatar_glue.suggest(faces[0])


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
    src = await _save_video(request, file)
    max_s = request.app.state.settings.max_video_seconds

    eng = _engines(request)

    def attributes(rgb, faces):
        from faceplay.avatar.configure import ATTRIBUTE_FIELDS

        eng.complete(rgb, faces, ATTRIBUTE_FIELDS)

    def run(job: Job) -> dict[str, Any]:
        with avatar_glue.LiveAvatar(avatar, mode, attributes, samples=avatar_glue.PHOTO_SAMPLES) as sess:
            return _video_loop(job, src, job.folder / "avatar.mp4", max_s, lambda rgb, faces, st: sess.frame(rgb, faces), None)

    job = _jobs(request).submit("avatar_video", run)
    return JSONResponse(job.to_dict(), status_code=202)


# -- lookalike / gallery -------------------------------------------------------
def _thumb_url(data: bytes | None) -> str | None:
    return None if not data else "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def shown_name(path: str) -> str:
    """The name a user gave a file: base name without the server's 8-hex upload prefix."""
    name = Path(str(path or "")).name
    return re.sub(r"^[0-9a-f]{8}_", "", name)


def _match(m) -> dict[str, Any]:
    d = m.to_dict()
    d["source"] = shown_name(d.get("source"))
    d["thumbnail"] = _thumb_url(m.entry.thumbnail)
    return d


@router.post("/lookalike", tags=["lookalike"], responses=ERROR_RESPONSES)
async def lookalike(
    request: Request,
    file: Annotated[UploadFile, File(description="a photo of the person")],
    top: Annotated[int, Form(ge=1, le=10)] = 3,
) -> dict[str, Any]:
    """Find "another you": the winner and the re-ranked top list with similarity, attributes and score terms."""
    require("lookalike")
    rgb = await _image(request, file)
    eng = _engines(request)

    def work():
        from faceplay.lookalike.search import LookalikeSearch

        store = eng.store()
        res = LookalikeSearch(store, eng.gallery_faces(), top=top, k=max(50, top)).search(rgb, name="the photo")
        return {"query": res.query, "winner": _match(res.winner), "top": [_match(m) for m in res.top],
                "candidates": res.candidates, "weights": res.weights.to_dict(), "gallery_entries": store.count()}

    return await eng.on_gallery(work)


def _stats(eng: Engines) -> dict[str, Any]:
    from faceplay.errors import StoreError

    try:
        store = eng.store()
    except StoreError:
        return {"entries": 0, "files": 0, "images": 0, "videos": 0, "file_list": []}
    s = store.stats()
    s.pop("location", None)
    s["file_list"] = [{"name": shown_name(f.path), "sha256": f.content_hash, "kind": f.kind, "faces": f.n_faces}
                      for f in store.files()]
    return s


@router.get("/gallery/stats", tags=["gallery"])
async def gallery_stats(request: Request) -> dict[str, Any]:
    """Counts and files of the gallery."""
    require("lookalike")
    eng = _engines(request)
    return await eng.on_gallery(_stats, eng)


@router.post("/gallery/add", tags=["gallery"], status_code=202, responses=ERROR_RESPONSES)
async def gallery_add(
    request: Request,
    files: Annotated[list[UploadFile], File(description="photos and/or videos")],
) -> JSONResponse:
    """Add photos / videos to the gallery in the background; answers a job with per-file progress."""
    require("lookalike")
    from faceplay.web.uploads import IMAGE_TYPES, sniff

    if not files:
        raise HTTPError(400, "send at least one photo or video in the 'files' field")
    if len(files) > 200:
        raise HTTPError(400, f"at most 200 files per request, got {len(files)}")
    settings = request.app.state.settings
    saved: list[Path] = []
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
            base = new_upload_path(settings.uploads_dir, fmt)
            dst = base.with_name(f"{base.stem[:8]}_{display_name(up.filename, 'upload' + base.suffix)}")
            if dst.suffix.lower() != base.suffix:
                dst = dst.with_name(dst.name + base.suffix)
            dst.write_bytes(data)
            saved.append(dst)
    except BaseException:
        for p in saved:
            p.unlink(missing_ok=True)
        raise
    eng = _engines(request)

    def run(job: Job) -> dict[str, Any]:
        from faceplay.lookalike.ingest import Ingester

        totals = {"files_added": 0, "files_skipped": 0, "faces_added": 0, "failed": []}
        for k, path in enumerate(saved):
            job.check()
            job.message = f"file {k + 1} of {len(saved)}: {path.name}"

            def one(p=path):
                store = eng.store(create=True)
                return Ingester(store, eng.gallery_faces()).add([p], progress=False)

            rep = eng.gallery_pool.submit(one).result()
            totals["files_added"] += rep.files_added
            totals["files_skipped"] += rep.files_skipped
            totals["faces_added"] += rep.faces_added
            totals["failed"] += [{"name": Path(p).name, "error": m} for p, m in rep.failed]
            if rep.files_skipped:
                path.unlink(missing_ok=True)  # already in the gallery under its first upload
            job.progress = (k + 1) / len(saved)
        totals["gallery_entries"] = eng.gallery_pool.submit(lambda: eng.store(create=True).count()).result()
        return totals

    job = _jobs(request).submit("gallery_add", run)
    return JSONResponse(job.to_dict(), status_code=202)


@router.delete("/gallery/files/{sha256}", tags=["gallery"], responses=ERROR_RESPONSES)
async def gallery_remove(request: Request, sha256: str) -> dict[str, Any]:
    """Remove every face of one ingested file, named by its sha256 (see ``/api/gallery/stats``)."""
    require("lookalike")
    check_hex_id(sha256, 64, "sha256")
    eng = _engines(request)
    uploads = request.app.state.settings.uploads_dir

    def work():
        from faceplay.errors import StoreError

        try:
            store = eng.store()
        except StoreError:
            raise HTTPError(404, "the gallery is empty: there is nothing to remove") from None
        paths = [Path(f.path) for f in store.files() if f.content_hash == sha256]
        if not paths:
            raise HTTPError(404, f"no file with sha256 {sha256} in the gallery; see /api/gallery/stats")
        n = store.remove_source(sha256)
        for p in paths:
            r = p.resolve()
            if uploads.resolve() in r.parents:  # only our own uploads are deleted from disk
                r.unlink(missing_ok=True)
        return {"removed": n, "gallery_entries": store.count()}

    return await eng.on_gallery(work)


# -- jobs --------------------------------------------------------------------
@router.get("/jobs/{job_id}", tags=["jobs"], responses=ERROR_RESPONSES)
async def job_status(request: Request, job_id: str) -> dict[str, Any]:
    """Status, progress and (when done) the download URL of a background job."""
    return _jobs(request).get(job_id).to_dict()


@router.get("/jobs/{job_id}/download", tags=["jobs"], responses={**ERROR_RESPONSES, 409: {"description": "not finished"}})
async def job_download(request: Request, job_id: str) -> FileResponse:
    """The output file of a finished job."""
    job = _jobs(request).get(job_id)
    if job.status == "failed":
        raise HTTPError(job.error_status if job.error_status and job.error_status < 500 else 409,
                        f"the job failed: {job.error}")
    if job.status != "done" or job.output is None:
        raise HTTPError(409, f"job {job_id} is {job.status} ({job.progress:.0%}); poll {job.to_dict()['status_url']}")
    if not job.output.exists():
        raise HTTPError(410, "the job's output was removed; submit the job again")
    return FileResponse(job.output, media_type=job.media_type, filename=job.output.name)

"""The REST API (``/api/...``): thin handlers over the public Python API.

Background jobs (video effects, gallery ingestion, job status) are in
:mod:`faceplay.web.api_jobs`.

Every handler validates its upload (:mod:`faceplay.web.uploads`), runs the
model work off the event loop, and answers JSON (or an image). Errors are
``{"error": message}`` with a 4xx status (see :mod:`faceplay.web.app`).
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

import faceplay
from faceplay.face.types import FIELD_GROUPS, FIELDS
from faceplay.web.effects import build_rig, encode_image
from faceplay.web.engines import Engines, feature_available, require
from faceplay.web.errors import HTTPError
from faceplay.web.uploads import (
    check_content_type,
    check_hex_id,
    decode_image,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

FIELD_CHOICES = FIELDS + FIELD_GROUPS
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (JSON: error)"},
    401: {"description": "Missing or wrong bearer token"},
    413: {"description": "Upload or image too large"},
    415: {"description": "Not an image / video"},
    422: {"description": "Undecodable image, no face, or invalid field"},
}


def _engines(request: Request) -> Engines:
    return request.app.state.engines


async def _image(request: Request, upload: UploadFile, field_name: str = "file"):
    check_content_type(upload.content_type, "image", field_name)
    data = await upload.read()
    settings = request.app.state.settings
    return await run_in_threadpool(decode_image, data, settings.max_image_pixels, field_name)


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
        "jobs_queued": request.app.state.jobs.queued(),
        "limits": {k: getattr(request.app.state.settings, k) for k in (
            "max_upload_bytes", "max_image_pixels", "max_live_sessions", "live_idle_seconds", "live_max_seconds",
            "max_queued_jobs", "job_retention_seconds")},
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

"""The ASGI app: pages, REST API, live WebSockets, limits and JSON errors.

>>> from faceplay.web.app import create_app
>>> from faceplay.web.config import Settings
>>> app = create_app(Settings(data_dir="/tmp/faceplay-web"))   # serve with uvicorn
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import faceplay
from faceplay.errors import FaceplayError
from faceplay.web.config import Settings
from faceplay.web.engines import Engines
from faceplay.web.errors import HTTPError, public_message, status_for
from faceplay.web.jobs import JobManager

log = logging.getLogger("faceplay.web")
STATIC = Path(__file__).parent / "static"
PAGES = {"/": "index.html", "/avatar": "avatar.html", "/relight": "relight.html", "/kiosk": "kiosk.html",
         "/overlay": "overlay.html"}  # overlay: only the avatar on a transparent page (an OBS browser source)


def _json_error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


class LimitsMiddleware:
    """Pure ASGI middleware: request log, bearer token, body size limit (413 before and while reading)."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        path = scope.get("path", "")
        status_holder = {"status": 0}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        async def reply(resp):
            await resp(scope, receive, send_wrapper)

        try:
            token = self.settings.token_bytes
            if token and path.startswith("/api/") and path != "/api/health":
                # raw header bytes against the UTF-8 token: one encoding, whatever the client sends
                auth = dict(scope.get("headers") or {}).get(b"authorization", b"")
                if not hmac.compare_digest(auth, b"Bearer " + token):
                    return await reply(_json_error(401, "missing or wrong bearer token; send "
                                                        "'Authorization: Bearer TOKEN'", {"WWW-Authenticate": "Bearer"}))
            limit = self.settings.max_upload_bytes
            headers = dict(scope.get("headers") or {})
            cl = headers.get(b"content-length")
            if cl is not None:
                try:
                    n = int(cl)
                except ValueError:
                    return await reply(_json_error(400, "bad Content-Length header"))
                if n > limit:
                    return await reply(_json_error(413, f"the request is {n / 1e6:.1f} MB, over the "
                                                        f"{limit / 1e6:.0f} MB limit; send a smaller file"))
            received = {"n": 0}

            async def limited_receive():
                message = await receive()
                if message["type"] == "http.request":
                    received["n"] += len(message.get("body", b""))
                    if received["n"] > limit:
                        raise _TooLarge()
                return message

            try:
                await self.app(scope, limited_receive, send_wrapper)
            except _TooLarge:
                if status_holder["status"] == 0:
                    await reply(_json_error(413, f"the request is over the {limit / 1e6:.0f} MB limit; send a smaller file"))
        finally:
            log.info("%s %s %s %.0f ms", scope.get("method"), path, status_holder["status"] or "-",
                     (time.perf_counter() - t0) * 1000)


class _TooLarge(Exception):
    pass


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the swagger-ui-bundle-v2 package (no CDN: the app works offline)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - the web extra installs it
        swagger_ui_path = None
    if swagger_ui_path:
        app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
        js, css = "/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css"
    else:
        js = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
        css = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"

    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="faceplay API", swagger_js_url=js,
                                   swagger_css_url=css, swagger_favicon_url="/static/favicon.svg")

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


def fixed_mmap_threshold(nbytes: int = 256 * 1024) -> bool:
    """Serve large blocks (frames, images, model tensors) from mmap so they go back to the OS when freed.

    glibc raises its mmap threshold each time such a block is freed, after which
    the per-frame buffers of live sessions land on the heap, fragment it, and
    RSS keeps climbing in steps of ~13 MB (freed memory it never returns).
    A fixed threshold keeps RSS flat over thousands of sessions. Process-wide;
    a no-op off glibc. Returns whether it was applied.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_mmap_threshold = -3
        return bool(libc.mallopt(m_mmap_threshold, int(nbytes)))
    except (OSError, AttributeError):  # not glibc
        return False


def create_app(settings: Settings | None = None) -> FastAPI:
    """The faceplay web app for ``settings`` (models load on first use, not here)."""
    settings = settings or Settings()
    settings.ensure_dirs()
    fixed_mmap_threshold()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        log.info("faceplay web: data in %s, gallery %s", settings.data_dir, settings.gallery_location)
        settings.ensure_dirs()
        app.state.jobs.clean_disk()  # job folders and staged uploads left by a crash
        yield
        log.info("faceplay web: shutting down")
        app.state.jobs.close()
        app.state.engines.close()

    app = FastAPI(
        title="faceplay",
        version=faceplay.__version__,
        description="Offline AI face effects over HTTP: analyze, verify, avatar, relight, lookalike, gallery, jobs. "
                    "Errors are JSON `{\"error\": message}` with a 4xx status.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engines = Engines(settings)
    app.state.jobs = JobManager(settings.jobs_dir, keep=settings.max_jobs_kept, max_queued=settings.max_queued_jobs,
                                retention_seconds=settings.job_retention_seconds, staging=settings.staging_dir)
    app.state.live_sessions = 0

    @app.exception_handler(HTTPError)
    async def _http_error(request: Request, exc: HTTPError):
        return _json_error(exc.status, public_message(exc.message), exc.headers)

    @app.exception_handler(FaceplayError)
    async def _fp_error(request: Request, exc: FaceplayError):
        return _json_error(status_for(exc), public_message(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
        return _json_error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _starlette(request: Request, exc: StarletteHTTPException):
        msg = public_message(exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail))
        if exc.status_code == 404:
            msg = f"no such endpoint: {request.method} {request.url.path[:100]}; see /docs"
        elif exc.status_code == 405:
            msg = f"{request.method} is not allowed on {request.url.path[:100]}; see /docs"
        return _json_error(exc.status_code, msg)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _json_error(500, f"internal error ({type(exc).__name__}); see the server log")

    from faceplay.web import api, api_jobs, live

    app.include_router(api.router)
    app.include_router(api_jobs.router)
    app.include_router(live.router)

    for route, name in PAGES.items():
        def page(name: str = name):
            return FileResponse(STATIC / name, media_type="text/html")

        app.add_api_route(route, page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/index.html", lambda: RedirectResponse("/"), methods=["GET"], include_in_schema=False)
    _offline_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LimitsMiddleware, settings=settings)
    return app

"""``faceplay serve``: the local web app and REST API."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from faceplay.clikit import emit_json, json_option

log = logging.getLogger(__name__)


def _folder(path: Path | None) -> Path | None:
    """``--data`` must be a folder or creatable as one (no file in the way)."""
    for p in (() if path is None else (path, *path.parents)):
        if p.exists():
            if not p.is_dir():
                raise click.BadParameter(f"{p} is a file, not a folder; give a folder for uploads and job outputs",
                                         param_hint="'--data'")
            break
    return path


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. The default serves this computer only; 0.0.0.0 exposes it to your network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--db", default=None, metavar="DB",
              help="Lookalike gallery: a folder, FILE.db (milvus-lite) or http://host:19530 [default: DATA/gallery].")
@click.option("--token", default=None, envvar="FACEPLAY_TOKEN", metavar="T",
              help="Require 'Authorization: Bearer T' on the API (pages take ?token=T). Also $FACEPLAY_TOKEN.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None, callback=lambda c, p, v: _folder(v),
              help="Folder for uploads and job outputs [default: ~/.local/share/faceplay/web].")
@click.option("--max-upload-mb", type=click.IntRange(1, 4096), default=64, show_default=True, help="Largest request body.")
@click.option("--max-pixels", type=click.IntRange(1_000, 200_000_000), default=16_000_000, show_default=True,
              help="Largest uploaded image in pixels.")
@click.option("--live-idle", "live_idle", type=click.FloatRange(1, 86400), default=30.0, show_default=True,
              metavar="S", help="Close a live socket that sends no camera frame for S seconds.")
@click.option("--live-max-minutes", type=click.FloatRange(0.1, 10080), default=30.0, show_default=True,
              help="Longest live session (the page can reconnect).")
@click.option("--max-queued-jobs", type=click.IntRange(0, 10000), default=8, show_default=True,
              help="Jobs waiting behind the running one; more get HTTP 429 with Retry-After.")
@click.option("--profile", type=click.Path(path_type=Path), default=None, metavar="FILE.json",
              help="Calibration/sensitivity profile from 'faceplay track --calibrate' for the live avatars.")
@json_option
def serve(host, port, db, token, data_dir, max_upload_mb, max_pixels, live_idle, live_max_minutes, max_queued_jobs,
          profile, as_json) -> None:
    """Serve the web app (live avatar, live relight, lookalike kiosk) and the REST API.

    Open http://HOST:PORT/ in a browser; the API schema is at /docs and
    /openapi.json. Stop with Ctrl-C (running jobs are stopped cleanly).
    """
    from faceplay.errors import ConfigError

    try:
        import uvicorn

        from faceplay.web.app import create_app
        from faceplay.web.config import Settings
    except ImportError as exc:
        raise ConfigError(f"the web app needs the 'web' extra ({exc.name} is missing); "
                          "run pip install 'faceplay[web]'") from exc
    kw = {"db": db, "token": token, "max_upload_bytes": max_upload_mb * 1024 * 1024, "max_image_pixels": max_pixels,
          "live_idle_seconds": live_idle, "live_max_seconds": live_max_minutes * 60, "max_queued_jobs": max_queued_jobs}
    if data_dir is not None:
        kw["data_dir"] = data_dir
    if profile is not None:
        from faceplay.creator.profile import load_profile

        load_profile(profile)  # a bad profile is a one-line error now, not at the first live frame
        kw["profile"] = profile
    settings = Settings(**kw)
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        log.warning("serving on %s without --token: anyone on your network can use the API", host)
    sock = bind(host, port)  # before announcing anything: a busy port is a one-line error, not a late traceback
    port = sock.getsockname()[1]
    app = create_app(settings)
    url = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    if as_json:
        emit_json({"url": url, "data_dir": str(settings.data_dir), "gallery": settings.gallery_location,
                   "token": bool(token)})
    else:
        click.echo(f"faceplay web app on {url}  (API docs: {url}docs; Ctrl-C to stop)", err=True)
    logging.getLogger("faceplay.web").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            ws_max_size=16 * 1024 * 1024, timeout_graceful_shutdown=10)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: the shut-down was clean
        pass
    log.info("faceplay web app stopped")


def bind(host: str, port: int):
    """A listening TCP socket on ``host:port`` (ConfigError with what to do when the port is taken)."""
    import errno
    import socket

    from faceplay.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot serve on {host!r}: {exc.strerror}; give an address of this machine "
                          "(e.g. --host 127.0.0.1)") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (another faceplay serve?); stop that "
                              "server or choose another --port") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ConfigError(f"no permission to listen on port {port}; choose a port above 1023") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock

"""Settings of the web app (``faceplay serve``): where it keeps files and its limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """``$FACEPLAY_WEB_DATA`` or ``~/.local/share/faceplay/web``: the only folder the app writes to."""
    env = os.environ.get("FACEPLAY_WEB_DATA")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "faceplay" / "web"


@dataclass
class Settings:
    """Everything :func:`faceplay.web.app.create_app` needs.

    ``data_dir`` holds uploads, job outputs and (without ``db``) the gallery;
    nothing a request names is ever resolved outside it. ``token``: when set,
    every ``/api`` call (except ``/api/health``) and every WebSocket needs
    ``Authorization: Bearer TOKEN`` (WebSockets: ``?token=TOKEN``).
    """

    data_dir: Path = field(default_factory=default_data_dir)
    db: str | None = None  #: gallery location (folder | file.db | http://host:19530); default data_dir/gallery
    token: str | None = None
    max_upload_bytes: int = 64 * 1024 * 1024  #: whole request body
    max_image_pixels: int = 16_000_000  #: decoded pixels of an uploaded image
    max_frame_pixels: int = 1920 * 1080  #: a live frame
    max_video_seconds: float = 120.0
    max_live_sessions: int = 24
    live_idle_seconds: float = 30.0  #: a live socket that sends no camera frame for this long is closed
    live_max_seconds: float = 1800.0  #: the longest live session; the page can reconnect after it
    max_frame_bytes: int = 8 * 1024 * 1024  #: one binary live message (id + JPEG)
    max_ws_text_bytes: int = 64 * 1024  #: one text (JSON settings) message on a live socket
    max_json_depth: int = 8  #: nesting of a JSON settings message
    max_jobs_kept: int = 50  #: finished jobs kept (with their output) ...
    job_retention_seconds: float = 3600.0  #: ... and for at most this long after they finished
    max_queued_jobs: int = 8  #: jobs waiting behind the running one; more get 429 + Retry-After
    live_jpeg_quality: int = 80
    profile: Path | None = None  #: calibration profile (faceplay track --calibrate) for every live avatar
    analyzers: int = 2  #: FaceAnalyzers serving REST requests in parallel (capped at the CPU count)

    def __post_init__(self) -> None:
        from faceplay.errors import ConfigError

        self.data_dir = Path(self.data_dir).resolve()
        if self.token is not None:
            try:
                self.token.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError("the token is not valid UTF-8 text; choose a token of plain characters") from None
            if not self.token.strip():
                raise ConfigError("the token is empty; give a non-empty --token (or unset $FACEPLAY_TOKEN)")
        for name in ("live_idle_seconds", "live_max_seconds", "job_retention_seconds"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be a positive number of seconds")
        if self.max_queued_jobs < 0:
            raise ConfigError("max queued jobs must be 0 or more")

    @property
    def token_bytes(self) -> bytes | None:
        """The token as UTF-8 bytes: the one encoding every check compares."""
        return None if self.token is None else self.token.encode("utf-8")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def staging_dir(self) -> Path:
        """Uploads waiting for their job (removed when the job ends, at shut-down and at start-up)."""
        return self.uploads_dir / "incoming"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def gallery_location(self) -> str:
        return self.db if self.db else str(self.data_dir / "gallery")

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.uploads_dir, self.staging_dir, self.jobs_dir):
            d.mkdir(parents=True, exist_ok=True)

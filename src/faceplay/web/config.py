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
    max_jobs_kept: int = 50
    live_jpeg_quality: int = 80
    analyzers: int = 2  #: FaceAnalyzers serving REST requests in parallel (capped at the CPU count)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def gallery_location(self) -> str:
        return self.db if self.db else str(self.data_dir / "gallery")

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.uploads_dir, self.jobs_dir):
            d.mkdir(parents=True, exist_ok=True)

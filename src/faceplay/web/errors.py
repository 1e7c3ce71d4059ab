"""JSON errors of the web API: every bad request gets a 4xx with a message that says what to do."""

from __future__ import annotations

import logging

from faceplay import errors as fe

log = logging.getLogger(__name__)


class HTTPError(Exception):
    """An error with an HTTP status, turned into ``{"error": message}`` by the app."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def status_for(exc: fe.FaceplayError) -> int:
    """HTTP status of a library error."""
    if isinstance(exc, fe.ImageTooLargeError):
        return 413
    if isinstance(exc, (fe.UnreadableImageError, fe.UnreadableVideoError, fe.NoFaceError, fe.NoAudioError)):
        return 422
    if isinstance(exc, (fe.InputError, fe.ConfigError)):
        return 400
    if isinstance(exc, fe.StoreError):
        return 409
    if isinstance(exc, (fe.ModelError, fe.RenderError)):
        return 503
    return 400

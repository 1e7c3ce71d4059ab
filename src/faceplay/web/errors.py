"""JSON errors of the web API: every bad request gets a 4xx with a message that says what to do.

Messages that reach a client never show a server path: :func:`public_message`
reduces every absolute file path to its base name.
"""

from __future__ import annotations

import logging
import re

from faceplay import errors as fe

log = logging.getLogger(__name__)

#: an absolute POSIX path of 2+ components (not a URL: no scheme, host or port before it, and not one of
#: the app's own routes), or a Windows path; group "name" is its last component
_PATH = re.compile(
    r"(?<![\w.:/~-])~?/(?!(?:api|ws|static|docs)(?:/|\b))(?:[^\s/'\"<>|;,()\[\]{}]+/)+(?P<name>[^\s/'\"<>|;,()\[\]{}]*)"
    r"|\b[A-Za-z]:\\(?:[^\s\\'\"<>|;,()\[\]{}]+\\)+(?P<wname>[^\s\\'\"<>|;,()\[\]{}]*)"
)


def public_message(message: str) -> str:
    """``message`` with every absolute server path replaced by its base name (or ``<server path>``)."""

    def repl(m: re.Match) -> str:
        return m.group("name") or m.group("wname") or "<server path>"

    return _PATH.sub(repl, str(message))


class HTTPError(Exception):
    """An error with an HTTP status, turned into ``{"error": message}`` by the app.

    ``headers`` go into the response (e.g. ``Retry-After`` of a 429).
    """

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


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

"""The one exception hierarchy of faceplay.

Every error a user can cause derives from :class:`FaceplayError`. Messages say
what went wrong *and what to do about it*; the CLI prints them as one line and
exits non-zero.
"""

from __future__ import annotations


class FaceplayError(Exception):
    """Base class of every error faceplay raises on purpose."""

    exit_code = 1


class InputError(FaceplayError):
    """The input file or argument cannot be used."""

    exit_code = 2


class InputNotFoundError(InputError):
    """A path given by the user does not exist."""


class UnreadableImageError(InputError):
    """A file is not a decodable image (empty, truncated, not an image)."""


class ImageTooLargeError(InputError):
    """An image has more pixels than the configured limit."""


class UnreadableVideoError(InputError):
    """A file is not a decodable video, or has no video stream."""


class NoAudioError(InputError):
    """A media file has no audio track where one is needed."""


class ConfigError(FaceplayError):
    """An option, preset, light spec or mapping is invalid."""

    exit_code = 2


class NoFaceError(FaceplayError):
    """No face was found where one is required."""

    exit_code = 3


class ModelError(FaceplayError):
    """A model file is missing, corrupt or cannot be loaded."""

    exit_code = 4


class ModelMissingError(ModelError):
    """A model file is not in the model store."""


class ModelCorruptError(ModelError):
    """A model file's sha256 does not match the manifest."""


class StoreError(FaceplayError):
    """A gallery / vector store cannot be opened, read or written."""

    exit_code = 5


class RenderError(FaceplayError):
    """The OpenGL renderer cannot start or draw."""

    exit_code = 6

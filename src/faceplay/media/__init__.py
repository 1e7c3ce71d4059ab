"""Media I/O: images (PIL) and videos (PyAV), one :class:`Frame` type."""

from faceplay.media.frame import Frame
from faceplay.media.image import IMAGE_EXTENSIONS, is_image_path, read_image, write_image
from faceplay.media.video import VIDEO_EXTENSIONS, VideoReader, VideoWriter, is_video_path, probe

__all__ = [
    "Frame",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoReader",
    "VideoWriter",
    "is_image_path",
    "is_video_path",
    "probe",
    "read_image",
    "write_image",
]

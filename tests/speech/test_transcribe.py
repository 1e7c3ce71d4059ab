"""Speech recognition on synthesised English and Chinese, silence, missing audio and corrupt files."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest

from faceplay.errors import NoAudioError, UnreadableVideoError

from .conftest import EN_TEXT, make_video


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def wer(ref: str, hyp: str) -> float:
    """Word error rate: word-level Levenshtein distance / reference length."""
    r, h = _words(ref), _words(hyp)
    d = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        prev, d[0] = d.copy(), i
        for j in range(1, len(h) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return d[len(h)] / max(1, len(r))


def test_wer_helper_counts_errors():
    assert wer("a b c d", "a b c d") == 0
    assert wer("a b c d", "a x c") == 0.5


def test_english_speech_is_transcribed(en_transcript):
    t = en_transcript
    assert t.language == "en"
    score = wer(EN_TEXT, t.text)
    assert score <= 0.25, f"WER {score:.0%}: {t.text!r}"


def test_word_timestamps_follow_the_speech(en_transcript):
    t = en_transcript
    words = [w for s in t.segments for w in s.words]
    assert len(words) >= 20
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in words)
    assert words[-1].end <= t.duration + 0.05
    # the sentence starts after 1.5 s of silence
    assert 1.0 <= words[0].start <= 2.2
    # speech ends with the audio, not long before
    assert words[-1].end >= t.duration - 2.0


def test_audio_of_wav_and_mp4_decode_alike(en_wav, en_video):
    """16 kHz mono from a wav and from the AAC track of an mp4 made from it: same length, same signal."""
    from faceplay.speech.audio import load_audio

    a, v = load_audio(en_wav), load_audio(en_video)
    assert a.dtype == np.float32 and a.ndim == 1
    assert abs(len(a) - len(v)) < 16000 * 0.1
    n = min(len(a), len(v))
    # AAC adds a small encoder delay: compare at the best lag within 50 ms
    best = max(np.corrcoef(a[lag : n - 800], v[: n - 800 - lag])[0, 1] for lag in range(0, 800, 16))
    best = max(best, *(np.corrcoef(v[lag : n - 800], a[: n - 800 - lag])[0, 1] for lag in range(0, 800, 16)))
    assert best > 0.9


def test_chinese_speech_comes_back_as_chinese_characters(whisper, zh_wav):
    from faceplay.speech.transcribe import transcribe

    t = transcribe(zh_wav, language="zh")
    assert t.language == "zh"
    chars = [c for c in t.text if not unicodedata.category(c).startswith(("P", "Z"))]
    cjk = [c for c in chars if "\u4e00" <= c <= "\u9fff"]
    assert len(cjk) >= 4, t.text
    assert len(cjk) / len(chars) >= 0.8, t.text
    # simplified characters by default (Whisper mixes in traditional ones)
    import opencc

    assert opencc.OpenCC("t2s").convert(t.text) == t.text
    assert all(w.text in t.text for s in t.segments for w in s.words)


def test_chinese_script_conversion_keeps_words():
    from faceplay.speech.transcribe import _converter

    assert _converter("simplified")("我愛中國，說話") == "我爱中国，说话"
    assert _converter("traditional")("我爱中国") == "我愛中國"
    assert _converter("as-is")("我愛中国") == "我愛中国"
    assert _converter("simplified")("你好,世界!OK, fine") == "你好，世界！OK, fine"


def test_silence_gives_no_segments_without_running_the_model():
    from faceplay.speech.transcribe import transcribe

    t = transcribe(np.zeros(16000 * 5, np.float32))
    assert t.segments == [] and t.text == ""
    assert t.duration == pytest.approx(5.0)
    # very quiet noise is still silence for the voice-activity detector
    noise = np.random.default_rng(0).normal(0, 1e-3, 16000 * 3).astype(np.float32)
    assert transcribe(noise).segments == []


def test_video_without_audio_says_so(tmp_path):
    from faceplay.speech.transcribe import transcribe

    v = make_video(tmp_path / "mute.mp4", None, seconds=1.0)
    with pytest.raises(NoAudioError, match="no audio track"):
        transcribe(v)


def test_corrupt_and_empty_files_are_clear_errors(tmp_path, en_video):
    from faceplay.speech.transcribe import transcribe

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(UnreadableVideoError, match="not an audio or video file"):
        transcribe(junk)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableVideoError, match="empty"):
        transcribe(empty)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(en_video.read_bytes()[:3000])
    with pytest.raises(UnreadableVideoError):
        transcribe(cut)


def test_real_video_with_silent_track_gives_empty_captions(videos_dir):
    from faceplay.speech.transcribe import transcribe

    t = transcribe(videos_dir / "talking_d3.mp4")  # its audio track is digital silence
    assert t.segments == [] and t.duration > 10


def test_real_video_without_audio_track(videos_dir):
    from faceplay.speech.transcribe import transcribe

    with pytest.raises(NoAudioError):
        transcribe(videos_dir / "talking_d13.mp4")


def test_real_song_is_transcribed(whisper, hamilton):
    from faceplay.speech.transcribe import transcribe

    t = transcribe(hamilton, language="auto")
    assert t.language == "en"
    words = set(_words(t.text))
    assert {"working", "harder", "smarter"} <= words, t.text

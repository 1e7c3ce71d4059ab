"""Mandarin captions on natural speech (not espeak), short clips, and no hallucination loops in any language.

The Mandarin and English clips are the ground-truth samples of the PyPI package
``pytest-audioeval`` (MIT), kept in ``tests/speech/data`` (see its README.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from faceplay.speech.quality import cer, edit_distance, find_loop, max_repeats, normalise_zh, wer

from .conftest import ZH_TEXT, espeak

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
ZH_SAMPLES = ("zh_jishu", "zh_nihao_shijie", "zh_pangrama")
#: Character error rate of Whisper base (int8, beam 5) on the three clips, measured 0.18-0.21;
#: the bound catches a regression, the issue's goal (0.10) needs a stronger model (see bench).
ZH_CER_MAX = 0.30


def _sample(name: str) -> tuple[Path, str]:
    wav, txt = DATA / f"{name}.wav", DATA / f"{name}.txt"
    if not wav.is_file():
        pytest.skip(f"{wav} is missing (tests/speech/data is part of the repository)")
    return wav, txt.read_text(encoding="utf-8").strip()


# --- text checks (no model) ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, loop",
    [
        ("I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry.", ("i'm sorry", 5)),
        ("4,4,4,4,4,4", ("4", 6)),
        ("谢谢谢谢谢", ("谢", 5)),
        ("第三个第三个第三个第三个第三个", ("第 三 个", 5)),
        ("hahahahaha", ("ha", 5)),
        ("⚫ ⚫ ⚫ ⚫ ⚫ ⚫", ("⚫", 6)),
        ("base 4-4-5-3-5-4-5-4-4-5-4-4-4.", ("4", 8)),
    ],
)
def test_loops_are_found(text, loop):
    assert find_loop(text) == loop


@pytest.mark.parametrize(
    "text",
    ["一二三四五六七八九十", "你好世界。", "The cat and the dog and the bird and the fish.", "It costs 1000000 dollars.", "1,1,1,1,4,5,3"],
)
def test_normal_text_is_not_a_loop(text):
    assert find_loop(text) is None


def test_error_rates():
    assert cer("一二三四五六七八九十。", "1234567890") == pytest.approx(0.1)  # digits read one by one; 0 is not 十
    assert cer("你好世界。", "你好事件") == 0.5
    assert cer("对，这就是我。", "對,這就是我") == 0  # script and punctuation do not count
    assert wer("Hello world.", "hello, world") == 0
    assert edit_distance("abc", "axcd") == 2


# --- recognition --------------------------------------------------------------------


@pytest.fixture(scope="module")
def zh_results(whisper):
    from faceplay.speech.transcribe import transcribe

    out = {}
    for name in ZH_SAMPLES:
        wav, ref = _sample(name)
        out[name] = (ref, transcribe(wav, language="zh"))
    return out


def test_mandarin_character_error_rate(zh_results, record_property):
    errors = chars = 0
    for name, (ref, t) in zh_results.items():
        r = normalise_zh(ref)
        errors += edit_distance(r, normalise_zh(t.text))
        chars += len(r)
        log.info("%s: %r (reference %r, CER %.2f)", name, t.text, ref, cer(ref, t.text))
        assert t.language == "zh"
    rate = errors / chars
    record_property("zh_cer", round(rate, 3))
    print(f"Mandarin CER {rate:.3f} over {chars} characters: " + " | ".join(t.text for _, t in zh_results.values()))
    assert rate <= ZH_CER_MAX, {n: t.text for n, (_, t) in zh_results.items()}


def test_mandarin_comes_out_simplified_with_chinese_punctuation(zh_results):
    for _ref, t in zh_results.values():
        assert "," not in t.text
        assert all(normalise_zh(c) == c for c in t.text if "\u4e00" <= c <= "\u9fff")


def test_language_is_detected_as_chinese(whisper):
    from faceplay.speech.transcribe import transcribe

    for name in ZH_SAMPLES:
        wav, _ = _sample(name)
        assert transcribe(wav, language="auto").language == "zh", name


@pytest.mark.parametrize("name", ["zh_jishu", "zh_nihao_shijie", "en_hello_world", "en_counting"])
def test_short_clips_are_transcribed_not_dropped(whisper, name):
    """1-3 s of a lone phrase or a count: the voice-activity detector must not swallow it."""
    from faceplay.speech.transcribe import transcribe

    wav, ref = _sample(name)
    t = transcribe(wav)  # defaults: auto language, VAD on
    assert 0.9 <= t.duration <= 3.5
    assert t.segments, f"{name}: no caption"
    if name.startswith("zh"):
        assert cer(ref, t.text) <= 0.5, t.text
    elif name == "en_hello_world":
        assert wer(ref, t.text) == 0, t.text
    else:  # a count comes back as digits or words
        assert len([w for s in t.segments for w in s.words]) >= 5, t.text
    first = t.segments[0]
    assert 0 <= first.start < 0.6 and t.segments[-1].end <= t.duration + 0.05


# --- hallucination loops ------------------------------------------------------------


def _assert_no_loop(t, what: str) -> None:
    for s in t.segments:
        assert max_repeats(s.text) < 5 and find_loop(s.text) is None, f"{what}: loop in caption {s.text!r}"


@pytest.fixture(scope="module")
def cmn_wav(tmp_path_factory) -> Path:
    """The Mandarin sentence read by espeak-ng's ``cmn`` voice (not intelligible speech: a loop trigger)."""
    return espeak(tmp_path_factory.mktemp("cmn") / "cmn.wav", ZH_TEXT + "今天天气很好，我们一起去公园散步吧。", voice="cmn", speed=120)


# the two corners of the (VAD, language) grid: the default path (VAD on, detected language) and the
# hardest (VAD off, Chinese forced) — the other two corners add 40 s to the suite and no new path
@pytest.mark.parametrize(("vad", "language"), [(True, "auto"), (False, "zh")])
def test_espeak_mandarin_gives_no_loop(whisper, cmn_wav, language, vad):
    from faceplay.speech.transcribe import transcribe

    _assert_no_loop(transcribe(cmn_wav, language=language, vad=vad), f"espeak cmn, {language}, vad={vad}")


@pytest.mark.parametrize("language", ["zh", "auto"])
@pytest.mark.parametrize("vad", [True, False])
def test_noise_gives_no_loop(whisper, language, vad):
    from faceplay.speech.transcribe import transcribe

    rng = np.random.default_rng(0)
    for seconds, amp in ((10, 0.05), (3, 0.2)):
        noise = (rng.standard_normal(16000 * seconds) * amp).astype(np.float32)
        t = transcribe(noise, language=language, vad=vad)
        _assert_no_loop(t, f"{seconds} s noise, {language}, vad={vad}")
        if vad and seconds == 10:
            assert not t.segments, [s.text for s in t.segments]


def test_a_looping_segment_is_decoded_again_or_dropped(whisper, monkeypatch):
    """When Whisper returns a loop, the segment is re-decoded on its own audio; a loop again is dropped."""
    import faceplay.speech.transcribe as tr

    wav, _ = _sample("zh_pangrama")
    calls = []
    real = tr._run

    def looping(model, audio, lang, beam_size, pad=0.0, **options):
        calls.append(options)
        for s in real(model, audio, lang, beam_size, pad, **options):
            yield s if options else type(s)(**{**s.__dict__, "text": "第三个" * 6})

    monkeypatch.setattr(tr, "_run", looping)
    t = tr.transcribe(wav, language="zh")
    assert len(calls) == 2 and calls[1] == tr.RETRY
    _assert_no_loop(t, "forced loop")
    assert cer(_sample("zh_pangrama")[1], t.text) <= 0.6  # the re-decoded text replaces the loop


def test_bench_reports_mandarin_cer_and_rtf(whisper, tmp_path):
    import json
    import shutil

    from click.testing import CliRunner

    from faceplay.bench.captions import captions, zh_samples

    assert [w.name for w, _ in zh_samples()] == [f"{n}.wav" for n in sorted(ZH_SAMPLES)]
    wav, _ = _sample("zh_nihao_shijie")
    for f in (wav, wav.with_suffix(".txt")):
        shutil.copy(f, tmp_path / f.name)
    args = ["--json", "--repeats", "1", "--threads", "1", "--no-baseline", "--zh-dir", str(tmp_path), str(wav)]
    res = CliRunner().invoke(captions, args)
    assert res.exit_code == 0, res.output
    zh = json.loads(res.output)["zh"]["configs"]
    assert set(zh) == {"int8, beam 5 (default)", "int8, greedy"}
    for r in zh.values():
        assert 0 <= r["cer"] <= 0.5 and r["rtf"] > 0 and r["joined"]["cer"] <= 0.5

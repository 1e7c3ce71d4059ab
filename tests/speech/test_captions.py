"""Caption cues: line breaking (CJK-aware, no orphans), timing rules, SRT/VTT/JSON round trips."""

from __future__ import annotations

import json

import pytest

from faceplay.errors import ConfigError
from faceplay.speech.captions import build_cues, parse_captions, read_captions, text_width, to_srt, to_vtt, write_captions
from faceplay.speech.transcribe import Segment, Transcript, Word


def check_cues(cues, max_chars, max_lines=2):
    """What a viewer would notice: order, overlaps, over-long lines, lone words."""
    assert cues, "no captions"
    for a, b in zip(cues, cues[1:]):
        assert a.start < a.end <= b.start < b.end, (a, b)
    for c in cues:
        assert 1 <= len(c.lines) <= max_lines, c
        for ln in c.lines:
            assert ln == ln.strip() and ln
            assert text_width(ln) <= max_chars, (ln, text_width(ln))
        if len(c.lines) > 1:  # no word left alone on a line
            assert all(len(ln.split()) >= 2 or text_width(ln) >= 4 for ln in c.lines), c.lines


def _seg(words: list[tuple[str, float, float]]) -> Segment:
    ws = [Word(t, s, e) for t, s, e in words]
    return Segment(ws[0].start, ws[-1].end, "".join(w.text for w in ws).strip(), ws)


def _zh_segment(text: str, start: float, per_char: float = 0.25) -> Segment:
    return _seg([(ch, start + i * per_char, start + (i + 1) * per_char) for i, ch in enumerate(text)])


def test_text_width_counts_chinese_double():
    assert text_width("abc") == 3
    assert text_width("你好") == 4
    assert text_width("你好，world") == 11


@pytest.mark.parametrize("max_chars", [16, 28, 42])
@pytest.mark.parametrize("fmt", [".srt", ".vtt"])
def test_real_transcript_round_trips(en_transcript, tmp_path, max_chars, fmt):
    cues = build_cues(en_transcript, max_chars=max_chars)
    check_cues(cues, max_chars)
    path = write_captions(tmp_path / f"out{fmt}", cues)
    back = read_captions(path)
    assert [c.lines for c in back] == [c.lines for c in cues]
    assert [(c.start, c.end) for c in back] == [(c.start, c.end) for c in cues]
    check_cues(back, max_chars)
    # every recognised word is in the captions, in order
    words = " ".join(w.text.strip() for s in en_transcript.segments for w in s.words).split()
    assert " ".join(" ".join(c.lines) for c in back).split() == words
    # captions follow the speech in time
    assert back[0].start >= 1.0 and back[-1].end <= en_transcript.duration + 1.0


def test_json_output_has_cues_and_words(en_transcript, tmp_path):
    cues = build_cues(en_transcript)
    data = json.loads(write_captions(tmp_path / "out.json", cues, en_transcript).read_text())
    assert data["language"] == "en"
    assert len(data["cues"]) == len(cues)
    assert data["segments"][0]["words"][0]["start"] >= 1.0


def test_chinese_lines_have_no_spaces_and_respect_the_width():
    text = "今天天气很好我们一起去公园散步吧然后再去吃晚饭好不好"
    cues = build_cues([_zh_segment(text, 0.5)], max_chars=16)
    check_cues(cues, 16)
    assert all(" " not in ln for c in cues for ln in c.lines)
    assert "".join("".join(c.lines) for c in cues) == text
    assert max(len(ln) for c in cues for ln in c.lines) <= 8


def test_mixed_chinese_english_line():
    seg = _seg([("我", 0, 0.2), ("喜欢", 0.2, 0.6), (" TikTok", 0.6, 1.2), ("和", 1.2, 1.4), (" YouTube", 1.4, 2.0)])
    cues = build_cues([seg], max_chars=28)
    assert cues[0].lines == ["我喜欢 TikTok和 YouTube"]


def test_no_orphan_word_on_a_line():
    words = "one two three four five six seven eight nine ten eleven".split()
    seg = _seg([(" " + w, i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(words)])
    cues = build_cues([seg], max_chars=28, max_lines=2)
    check_cues(cues, 28)
    assert [w for c in cues for ln in c.lines for w in ln.split()] == words
    # the lines of a two-line cue are balanced rather than filled greedily
    for c in cues:
        if len(c.lines) == 2:
            assert abs(len(c.lines[0]) - len(c.lines[1])) <= 8, c.lines


def test_lone_last_word_joins_a_neighbour():
    words = "we are going to the beach tomorrow morning okay".split()
    seg = _seg([(" " + w, i * 0.4, i * 0.4 + 0.3) for i, w in enumerate(words)])
    cues = build_cues([seg], max_chars=20, max_lines=1)
    assert all(len(c.lines[0].split()) >= 2 for c in cues), [c.lines for c in cues]


def test_word_wider_than_a_line_is_split():
    seg = _seg([(" supercalifragilisticexpialidocious", 0.0, 2.0), (" indeed", 2.0, 2.4)])
    cues = build_cues([seg], max_chars=12)
    check_cues(cues, 12)


def test_pause_starts_a_new_caption_and_times_never_overlap():
    a = _seg([(" hello", 0.0, 0.4), (" there", 0.4, 0.8)])
    b = _seg([(" how", 3.0, 3.2), (" are", 3.2, 3.4), (" you", 3.4, 3.6)])
    # overlapping word times as Whisper sometimes gives them
    c = _seg([(" fine", 3.5, 3.9), (" thanks", 3.7, 4.1)])
    cues = build_cues([a, b, c], max_chars=28)
    assert cues[0].lines == ["hello there"] and cues[0].end <= 3.0
    assert cues[1].start == pytest.approx(3.0)
    check_cues(cues, 28)


def test_short_captions_stay_readable():
    cues = build_cues([_seg([(" yes", 1.0, 1.1)]), _seg([(" no", 5.0, 5.1)])], min_duration=0.7)
    assert cues[0].end - cues[0].start >= 0.7 and cues[1].end - cues[1].start >= 0.7


def test_empty_transcript_gives_empty_files(tmp_path):
    t = Transcript(language="und", language_probability=0.0, duration=5.0)
    cues = build_cues(t)
    assert cues == []
    assert to_srt(cues) == ""
    assert parse_captions(to_vtt(cues)) == []
    assert read_captions(write_captions(tmp_path / "e.srt", cues)) == []


def test_bad_options_and_formats():
    with pytest.raises(ConfigError):
        build_cues([], max_chars=2)
    with pytest.raises(ConfigError, match=".srt, .vtt or .json"):
        write_captions("out.txt", [])


def test_parse_vtt_with_settings_and_hours():
    text = "WEBVTT\n\nNOTE hi\n\n01:02:03.004 --> 01:02:04.500 align:center\n第一行\nsecond\n"
    (cue,) = parse_captions(text)
    assert cue.start == pytest.approx(3723.004) and cue.end == pytest.approx(3724.5)
    assert cue.lines == ["第一行", "second"]

"""Checks on recognised text: hallucination loops, and the error rates used by tests and the benchmark.

Whisper, when it loses track of the audio (noise, music, unintelligible
speech), tends to write one short pattern over and over ("4-4-4-4-4",
"I'm sorry, I'm sorry, …", "谢谢谢谢谢"). :func:`find_loop` spots such a
segment so the recogniser can re-decode or drop it: a caption made of a
repeated pattern is never written.

>>> find_loop("I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry.")
("i'm sorry", 5)
>>> find_loop("一二三四五六七八九十") is None
True
"""

from __future__ import annotations

import re
import unicodedata

#: A pattern repeated this many times in a row is a loop.
MIN_REPEATS = 5
#: Longest pattern looked for, in tokens (a Chinese character or a word/number).
MAX_PATTERN = 4

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)?|[^\w\s]")
_CHAR_LOOP = re.compile(r"(\D{1,4}?)\1{%d,}" % (MIN_REPEATS - 1))


def tokens(text: str) -> list[str]:
    """Lower-case tokens: each Chinese character or symbol alone, other letters/digits as words; punctuation dropped."""
    found = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
    return [t for t in found if not unicodedata.category(t[0]).startswith("P")]


def _tandem(toks: list[str], n: int, i: int) -> int:
    """How many times ``toks[i:i+n]`` repeats back to back from ``i``."""
    pat, k = toks[i : i + n], 1
    while toks[i + k * n : i + (k + 1) * n] == pat:
        k += 1
    return k


def find_loop(text: str, min_repeats: int = MIN_REPEATS) -> tuple[str, int] | None:
    """``(pattern, repeats)`` when ``text`` repeats a short pattern ``min_repeats`` times or more, else ``None``.

    Looks for (1) 1–4 tokens repeated back to back (``"4 4 4 4 4"``, ``"i'm sorry"`` × 5,
    ``"谢谢"`` × 5), (2) a word made of a repeated run of letters (``"hahahahaha"``) and
    (3) one token making up at least half of a text of eight or more tokens (``"4-4-5-4-4-5-4-4-4"``).
    Digit runs inside one number (``"1000000"``) are not loops.
    """
    toks = tokens(text)
    best: tuple[str, int] | None = None
    for n in range(1, MAX_PATTERN + 1):
        for i in range(len(toks) - n * min_repeats + 1):
            k = _tandem(toks, n, i)
            if k >= min_repeats and (best is None or k > best[1]):
                best = (" ".join(toks[i : i + n]), k)
    if best:
        return best
    for t in toks:
        m = _CHAR_LOOP.search(t)
        if m:
            return m.group(1), len(m.group(0)) // len(m.group(1))
    if len(toks) >= 8:
        top = max(set(toks), key=toks.count)
        if toks.count(top) >= min_repeats and toks.count(top) * 2 >= len(toks):
            return top, toks.count(top)
    return None


def max_repeats(text: str) -> int:
    """The largest back-to-back repetition count of any 1–4-token pattern in ``text`` (1 when none repeats)."""
    toks = tokens(text)
    return max((_tandem(toks, n, i) for n in range(1, MAX_PATTERN + 1) for i in range(len(toks))), default=0)


# --- error rates ------------------------------------------------------------------

_ZH_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")
_t2s = None


def _simplified(text: str) -> str:
    global _t2s
    if _t2s is None:
        try:
            import opencc

            _t2s = opencc.OpenCC("t2s").convert
        except ImportError:  # the speech extra brings it; without it texts are compared as written
            _t2s = str
    return _t2s(text)


def normalise_zh(text: str) -> str:
    """Chinese text for scoring: simplified characters, digits read one by one (1 → 一), no punctuation or spaces."""
    text = _simplified(unicodedata.normalize("NFKC", text)).translate(_ZH_DIGITS)
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PZSC")


def edit_distance(ref: list | str, hyp: list | str) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    d = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        prev, d[0] = d[:], i
        for j in range(1, len(hyp) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (ref[i - 1] != hyp[j - 1]))
    return d[len(hyp)]


def cer(ref: str, hyp: str) -> float:
    """Character error rate of Chinese text after :func:`normalise_zh`."""
    r = normalise_zh(ref)
    return edit_distance(r, normalise_zh(hyp)) / max(1, len(r))


def wer(ref: str, hyp: str) -> float:
    """Word error rate of English text (lower-case words, punctuation ignored)."""
    r = re.findall(r"[a-z']+", ref.lower())
    return edit_distance(r, re.findall(r"[a-z']+", hyp.lower())) / max(1, len(r))

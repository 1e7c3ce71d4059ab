"""Turn a transcript into caption cues for vertical short videos, and read/write SRT, VTT, JSON.

Line breaking works on Whisper's timed words:

* a line holds at most ``max_chars`` characters, where a full-width (CJK)
  character counts as two, so the same limit fits Chinese and English on the
  same screen width (default 28 → 14 Chinese characters);
* a cue holds at most ``max_lines`` lines and ``max_duration`` seconds and ends
  at pauses and sentence ends;
* lines of a cue are balanced (the break that makes the longest line shortest),
  so no word is left alone on a line, and a cue of one lone word borrows from
  its neighbour;
* Chinese text is joined without spaces, a word wider than a line is split;
* cue times are whole milliseconds, strictly increasing and never overlapping.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from faceplay.errors import ConfigError, InputError
from faceplay.speech.transcribe import Segment, Transcript

CAPTION_FORMATS = (".srt", ".vtt", ".json")
_SENTENCE_END = tuple(".!?。！？…")
_BREAK_AFTER = tuple(",;:，；：、")


@dataclass
class Cue:
    """One caption on screen: start/end in seconds and its lines of text."""

    start: float
    end: float
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def char_width(ch: str) -> int:
    """Display width of one character: 2 for full-width (CJK, full-width punctuation), else 1."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Display width of a line (see :func:`char_width`)."""
    return sum(char_width(c) for c in text)


@dataclass
class _Tok:
    text: str  # with its leading space, as Whisper gives it
    start: float
    end: float


def _split_wide(tok: _Tok, max_chars: int) -> list[_Tok]:
    """Split a token wider than a line into pieces that fit, sharing its time span."""
    body = tok.text.strip()
    lead = tok.text[: len(tok.text) - len(tok.text.lstrip())]
    pieces: list[str] = []
    cur = ""
    for ch in body:
        if text_width(cur + ch) > max_chars and cur:
            pieces.append(cur)
            cur = ""
        cur += ch
    if cur:
        pieces.append(cur)
    total = max(1, sum(len(p) for p in pieces))
    out, t, done = [], tok.start, 0
    for i, p in enumerate(pieces):
        done += len(p)
        end = tok.start + (tok.end - tok.start) * done / total
        out.append(_Tok((lead if i == 0 else "") + p, t, end))
        t = end
    return out


def _segment_tokens(seg: Segment) -> list[_Tok]:
    if seg.words:
        return [_Tok(w.text, w.start, w.end) for w in seg.words if w.text.strip()]
    # No word timings: spread the words (or characters for CJK) over the segment.
    parts = re.findall(r"\s*\S+", seg.text) if " " in seg.text.strip() else list(seg.text.strip())
    n = max(1, len(parts))
    d = (seg.end - seg.start) / n
    return [_Tok(p, seg.start + i * d, seg.start + (i + 1) * d) for i, p in enumerate(parts)]


def _glue(toks: list[_Tok]) -> list[_Tok]:
    """Merge word pieces Whisper splits without a space ("self" + "-starter") so no line breaks inside a word."""
    out: list[_Tok] = []
    for t in toks:
        if out and t.text[:1] and not t.text[0].isspace() and char_width(t.text[0]) == 1 and char_width(out[-1].text[-1]) == 1:
            out[-1] = _Tok(out[-1].text + t.text, out[-1].start, t.end)
        else:
            out.append(t)
    return out


def _join(toks: list[_Tok]) -> str:
    return "".join(t.text for t in toks).strip()


def _layout(toks: list[_Tok], max_chars: int, max_lines: int) -> list[list[_Tok]] | None:
    """Fewest lines (≤ max_lines) that fit, balanced so the longest line is shortest; None if impossible."""
    n = len(toks)
    width = [[0] * (n + 1) for _ in range(n + 1)]
    for i in range(n):
        for j in range(i + 1, n + 1):
            width[i][j] = text_width(_join(toks[i:j]))
    for k in range(1, max_lines + 1):
        # best[j][m]: minimal max-width splitting toks[:j] into m lines; back-pointers in prev.
        inf = float("inf")
        best = [[inf] * (k + 1) for _ in range(n + 1)]
        prev = [[-1] * (k + 1) for _ in range(n + 1)]
        best[0][0] = 0
        for m in range(1, k + 1):
            for j in range(1, n + 1):
                for i in range(m - 1, j):
                    w = width[i][j]
                    if w > max_chars or best[i][m - 1] == inf:
                        continue
                    # small bonus for breaking after punctuation
                    cost = max(best[i][m - 1], w) - (0.5 if i and toks[i - 1].text.rstrip().endswith(_BREAK_AFTER + _SENTENCE_END) else 0)
                    if cost < best[j][m]:
                        best[j][m], prev[j][m] = cost, i
        if best[n][k] < inf:
            lines, j = [], n
            for m in range(k, 0, -1):
                i = prev[j][m]
                lines.append(toks[i:j])
                j = i
            return lines[::-1]
    return None


def build_cues(
    transcript: Transcript | list[Segment],
    *,
    max_chars: int = 28,
    max_lines: int = 2,
    max_duration: float = 6.0,
    min_duration: float = 0.7,
    pause: float = 0.8,
) -> list[Cue]:
    """Group the timed words of a transcript into caption cues (see the module doc for the rules)."""
    if max_chars < 4:
        raise ConfigError("max characters per line must be at least 4")
    if max_lines < 1:
        raise ConfigError("max lines per caption must be at least 1")
    segments = transcript.segments if isinstance(transcript, Transcript) else transcript
    toks: list[tuple[_Tok, bool]] = []  # (token, is last of its segment)
    for seg in segments:
        st = [p for t in _glue(_segment_tokens(seg)) for p in (_split_wide(t, max_chars) if text_width(t.text.strip()) > max_chars else [t])]
        toks += [(t, i == len(st) - 1) for i, t in enumerate(st)]

    groups: list[list[_Tok]] = []
    cur: list[_Tok] = []
    for tok, seg_end in toks:
        if cur:
            fits = _layout(cur + [tok], max_chars, max_lines) is not None
            if not fits or tok.end - cur[0].start > max_duration:
                # Prefer ending the full cue after punctuation in its second half.
                k = next(
                    (i for i in range(len(cur) - 1, len(cur) // 2 - 1, -1) if i > 0 and cur[i - 1].text.rstrip().endswith(_BREAK_AFTER + _SENTENCE_END)),
                    len(cur),
                )
                groups.append(cur[:k])
                cur = cur[k:]
            elif tok.start - cur[-1].end > pause:
                groups.append(cur)
                cur = []
        cur.append(tok)
        ended = tok.text.rstrip().endswith(_SENTENCE_END) or seg_end
        if ended and text_width(_join(cur)) >= max_chars // 2:
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    groups = _fix_orphans(groups, max_chars, max_lines, pause)

    cues: list[Cue] = []
    for g in groups:
        lines = _layout(g, max_chars, max_lines) or [g]
        cues.append(Cue(g[0].start, g[-1].end, [_join(line) for line in lines]))
    return _fix_times(cues, min_duration)


def _is_lone_word(g: list[_Tok]) -> bool:
    return len(g) == 1 and not any(char_width(c) == 2 for c in g[0].text)


def _fix_orphans(groups: list[list[_Tok]], max_chars: int, max_lines: int, pause: float) -> list[list[_Tok]]:
    """A cue of one lone (non-CJK) word joins its neighbour or borrows a word from it."""
    out: list[list[_Tok]] = []
    for g in groups:
        if out and _is_lone_word(g) and g[0].start - out[-1][-1].end <= pause:
            prev = out[-1]
            if _layout(prev + g, max_chars, max_lines) is not None:
                out[-1] = prev + g
                continue
            if len(prev) >= 3 and _layout(prev[-1:] + g, max_chars, max_lines) is not None:
                out[-1], g = prev[:-1], prev[-1:] + g
        out.append(g)
    return out


def _fix_times(cues: list[Cue], min_duration: float) -> list[Cue]:
    """Millisecond times, strictly increasing, no overlaps, a minimum display time where there is room."""
    out: list[Cue] = []
    for i, c in enumerate(cues):
        start = round(c.start, 3)
        end = round(c.end, 3)
        if out and start < out[-1].end:
            start = out[-1].end
        nxt = round(cues[i + 1].start, 3) if i + 1 < len(cues) else None
        if end - start < min_duration:
            end = start + min_duration if nxt is None else max(end, min(start + min_duration, nxt))
        if nxt is not None and end > nxt and nxt > start:
            end = nxt
        end = round(max(end, start + 0.001), 3)
        out.append(Cue(start, end, c.lines))
    return out


# --------------------------------------------------------------------------- formats


def _ts(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    """SubRip text (empty string for no cues)."""
    return "".join(f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n{c.text}\n\n" for i, c in enumerate(cues, 1))


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text (a header only for no cues)."""
    return "WEBVTT\n\n" + "".join(f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{c.text}\n\n" for c in cues)


def to_json_obj(cues: list[Cue], transcript: Transcript | None = None) -> dict:
    """Plain data: cues plus (when given) language, duration and the raw segments with words."""
    obj: dict = {"cues": [asdict(c) | {"text": c.text} for c in cues]}
    if transcript is not None:
        obj = transcript.to_dict() | obj
    return obj


_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{3})")


def _parse_ts(s: str) -> float:
    m = _TIME.fullmatch(s.strip())
    if not m:
        raise InputError(f"bad caption timestamp {s!r}")
    h, mi, se, ms = m.groups()
    return round(int(h or 0) * 3600 + int(mi) * 60 + int(se) + int(ms) / 1000, 3)  # 6 + 0.56 is 6.5600000000000005


def parse_captions(text: str) -> list[Cue]:
    """Parse SRT or WebVTT text back into cues (cue settings and notes are ignored)."""
    cues: list[Cue] = []
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    for block in blocks:
        lines = [ln for ln in block.split("\n")]
        idx = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if idx is None:
            continue  # WEBVTT header, NOTE, STYLE, or an empty file
        a, b = lines[idx].split("-->", 1)
        cues.append(Cue(_parse_ts(a), _parse_ts(b.strip().split()[0]), [ln for ln in lines[idx + 1 :] if ln.strip()]))
    return cues


def read_captions(path: str | Path) -> list[Cue]:
    """Read an .srt or .vtt file."""
    return parse_captions(Path(path).read_text(encoding="utf-8"))


def write_captions(path: str | Path, cues: list[Cue], transcript: Transcript | None = None) -> Path:
    """Write cues as .srt, .vtt or .json (chosen by the file extension)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".srt":
        body = to_srt(cues)
    elif ext == ".vtt":
        body = to_vtt(cues)
    elif ext == ".json":
        body = json.dumps(to_json_obj(cues, transcript), ensure_ascii=False, indent=1) + "\n"
    else:
        raise ConfigError(f"{p}: unknown caption format {ext or '(none)'!r}; use .srt, .vtt or .json")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(body, encoding="utf-8")
    return p

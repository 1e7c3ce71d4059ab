"""Speech captions for short videos (Chinese and English), offline on a CPU.

Whisper base (CTranslate2, int8) through faster-whisper, Silero voice-activity
detection to skip silence, word timestamps, CJK-aware line breaking, SRT / VTT /
JSON output and burnt-in captions. Needs the ``speech`` extra
(``pip install 'faceplay[speech]'``). Imports are lazy: nothing loads until used.

>>> from faceplay.speech import transcribe, build_cues, write_captions, burn_captions
>>> t = transcribe("clip.mp4", language="auto", progress=True)
>>> cues = build_cues(t, max_chars=28)
>>> write_captions("clip.srt", cues)
>>> burn_captions("clip.mp4", cues, "clip.captioned.mp4")
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "transcribe": "faceplay.speech.transcribe",
    "Transcript": "faceplay.speech.transcribe",
    "Segment": "faceplay.speech.transcribe",
    "Word": "faceplay.speech.transcribe",
    "LANGUAGES": "faceplay.speech.transcribe",
    "load_audio": "faceplay.speech.audio",
    "Cue": "faceplay.speech.captions",
    "build_cues": "faceplay.speech.captions",
    "write_captions": "faceplay.speech.captions",
    "read_captions": "faceplay.speech.captions",
    "parse_captions": "faceplay.speech.captions",
    "text_width": "faceplay.speech.captions",
    "burn_captions": "faceplay.speech.burn",
    "ensure_model": "faceplay.speech.model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'faceplay.speech' has no attribute {name!r}")

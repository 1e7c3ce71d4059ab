"""``faceplay captions``: speech captions for a video or audio file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from faceplay.clikit import emit_json, json_option, progress_enabled
from faceplay.errors import InputError


def _has_video(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as c:
            return bool(c.streams.video)
    except Exception:  # noqa: BLE001 - load_audio reports unreadable files properly
        return True


def _check_font() -> None:
    """Fail before transcribing when the caption font cannot be loaded (e.g. a bad ``$FACEPLAY_CAPTION_FONT``)."""
    from PIL import ImageFont

    from faceplay.errors import ConfigError
    from faceplay.speech.burn import find_font

    font = find_font()
    try:
        ImageFont.truetype(str(font), 16)
    except OSError as exc:
        raise ConfigError(f"the caption font {font} cannot be loaded ({exc}); set FACEPLAY_CAPTION_FONT to a "
                          ".ttf/.ttc/.otf font file (or unset it)") from None


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write captions to .srt, .vtt or .json (default: SRT on stdout).")
@click.option("--burn", type=click.Path(path_type=Path), help="Also write a copy of the video with the captions drawn in (H.264 .mp4, audio kept).")
@click.option("--lang", "language", type=click.Choice(["auto", "zh", "en"]), default="auto", show_default=True, help="Spoken language; auto picks Chinese or English.")
@click.option("--zh-script", type=click.Choice(["simplified", "traditional", "as-is"]), default="simplified", show_default=True, help="Characters of Chinese captions.")
@click.option("--max-chars", type=click.IntRange(4, 200), default=28, show_default=True, help="Max characters per line (a Chinese character counts 2).")
@click.option("--max-lines", type=click.IntRange(1, 4), default=2, show_default=True, help="Max lines per caption.")
@click.option("--beam-size", type=click.IntRange(1, 10), default=5, show_default=True, help="Decoder beam size (1 = greedy, faster).")
@click.option("--no-vad", is_flag=True, help="Do not skip silence with voice-activity detection.")
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True, help="CPU threads for the recogniser.")
@json_option
def captions(
    input_path: Path,
    output: Path | None,
    burn: Path | None,
    language: str,
    zh_script: str,
    max_chars: int,
    max_lines: int,
    beam_size: int,
    no_vad: bool,
    threads: int,
    as_json: bool,
) -> None:
    """Transcribe the speech of INPUT (video or audio) into captions.

    Runs Whisper base offline on the CPU (int8), skips silence, times every
    word and breaks lines for vertical short videos. Writes SRT/VTT/JSON and,
    with --burn, a video with the captions drawn in a font that renders Chinese.

    \b
    Examples:
      faceplay captions clip.mp4 -o clip.srt
      faceplay captions talk.m4a --lang zh -o talk.vtt
      faceplay captions clip.mp4 -o clip.srt --burn clip.captioned.mp4
    """
    from faceplay.speech.captions import CAPTION_FORMATS, build_cues, to_json_obj, to_srt, write_captions
    from faceplay.speech.transcribe import transcribe

    if output is not None and output.suffix.lower() not in CAPTION_FORMATS:
        raise InputError(f"{output}: unknown caption format; use a name ending in .srt, .vtt or .json")
    if burn is not None:
        if burn.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
            raise InputError(f"{burn}: burnt-in captions are written as H.264; give an .mp4 name")
        if input_path.is_file() and not _has_video(input_path):
            raise InputError(f"{input_path}: has no video stream, so there is nothing to burn captions into; use -o out.srt")
        _check_font()
    from faceplay.media.output import atomic_output, check_output

    check_output(output, input_path)
    check_output(burn, input_path, output, option="--burn")
    show = progress_enabled(as_json)
    t0 = time.perf_counter()
    transcript = transcribe(input_path, language=language, vad=not no_vad, beam_size=beam_size, threads=threads, progress=show, zh_script=zh_script)
    t_asr = time.perf_counter() - t0
    cues = build_cues(transcript, max_chars=max_chars, max_lines=max_lines)
    outputs: dict[str, str] = {}
    if output is not None:
        with atomic_output(output) as tmp:
            write_captions(tmp, cues, transcript)
        outputs["captions"] = str(output)
    if burn is not None:
        from faceplay.speech.burn import burn_captions

        outputs["burn"] = str(burn_captions(input_path, cues, burn, max_chars=max_chars, progress=show))
    elapsed = time.perf_counter() - t0
    if as_json:
        emit_json(
            {"input": str(input_path), **to_json_obj(cues, transcript), "outputs": outputs,
             "seconds": round(elapsed, 3), "rtf": round(t_asr / transcript.duration, 4) if transcript.duration else None}
        )
        return
    if output is None and burn is None:
        click.echo(to_srt(cues), nl=False)
        return
    what = f"{len(cues)} captions" if cues else "no speech found, empty captions"
    click.echo(f"{input_path}: {what}, language {transcript.language}, {transcript.duration:.1f} s of audio in {elapsed:.1f} s")
    for kind, path in outputs.items():
        click.echo(f"  {kind}: {path}")

"""``faceplay bench captions``: real-time factor of speech recognition on the CPU, and Chinese accuracy.

Real-time factor (RTF) = processing time / audio duration (lower is faster;
the goal is ≤ 0.3 on 2 cores). Every configuration is timed in the same run on
the same audio, so the ratios against the baseline (the float32 model, beam 5)
hold even on a busy machine. The same configurations then recognise a set of
Mandarin clips with reference transcripts (``--zh-dir``, default the
repository's ``tests/speech/data/zh_*.wav``) and report the character error
rate (CER, goal ≤ 0.10) and RTF of each.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from faceplay.clikit import emit_json, json_option, table
from faceplay.errors import ConfigError

log = logging.getLogger(__name__)

#: About a minute of English for the default benchmark input (spoken by espeak-ng).
BENCH_TEXT = (
    "Welcome back to the channel. Today we are going to look at three simple ways to cook rice "
    "that always turn out well. First, rinse the rice under cold water until the water runs clear. "
    "This removes the extra starch, so the grains do not stick together. Second, use the right amount "
    "of water: for white rice, about one and a quarter cups of water for every cup of rice. "
    "Bring it to a boil, then turn the heat down low, put the lid on, and wait fifteen minutes. "
    "Third, and this is the step most people skip, let the rice rest for ten minutes with the lid on "
    "after you turn off the heat. The steam finishes the cooking and every grain comes out soft and fluffy. "
    "If you try this tonight, tell me in the comments how it went, and do not forget to follow for more "
    "quick recipes every week. Thanks for watching and see you next time."
)


def _synth(folder: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        raise ConfigError("espeak-ng is needed to make the default benchmark audio (apt-get install espeak-ng); or give INPUT files")
    out = folder / "bench_en.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), BENCH_TEXT], check=True, capture_output=True)
    return out


#: Mandarin clips + transcripts shipped with the repository's tests (see tests/speech/data/README.md).
ZH_DIR = Path(__file__).resolve().parents[3] / "tests" / "speech" / "data"


def zh_samples(folder: Path | None = None) -> list[tuple[Path, str]]:
    """``(wav, reference text)`` pairs: every ``NAME.wav`` with a ``NAME.txt`` in ``folder`` (default: the zh_ clips of :data:`ZH_DIR`)."""
    d = folder or ZH_DIR
    if not d.is_dir():
        return []
    wavs = sorted(d.glob("*.wav" if folder else "zh_*.wav"))
    return [(w, w.with_suffix(".txt").read_text(encoding="utf-8").strip()) for w in wavs if w.with_suffix(".txt").is_file()]


def _time(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU seconds (all threads of this process) of ``repeats`` calls."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu), result


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--repeats", type=click.IntRange(1, 20), default=2, show_default=True, help="Timed runs per configuration (median).")
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True, help="CPU threads.")
@click.option("--no-baseline", is_flag=True, help="Skip the float32 baseline (faster).")
@click.option("--zh-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Mandarin clips NAME.wav + NAME.txt for the CER (default: the repository's test clips).")
@click.option("--no-zh", is_flag=True, help="Skip the Chinese accuracy part.")
@json_option
def captions(inputs: tuple[Path, ...], repeats: int, threads: int, no_baseline: bool, zh_dir: Path | None, no_zh: bool, as_json: bool) -> None:
    """Real-time factor of `faceplay captions` recognition (INPUT files, default: 1 min of synthesised English).

    Configurations: int8 beam 5 (the default), int8 greedy, int8 on one
    thread, and the float32 model as the baseline; audio decoding +
    voice-activity detection are included in every timing. Reports RTF and the speed-up over the baseline,
    then the character error rate and RTF of each configuration on Mandarin clips (language zh).
    """
    from faster_whisper import WhisperModel

    from faceplay.speech.audio import SAMPLE_RATE, load_audio
    from faceplay.speech.model import ensure_model
    from faceplay.speech.transcribe import transcribe

    folder = ensure_model()
    # (label, compute type, beam size, threads)
    configs = [
        ("int8, beam 5 (default)", "int8", 5, threads),
        ("int8, greedy", "int8", 1, threads),
        ("int8, beam 5, 1 thread", "int8", 5, 1),
    ]
    if threads == 1:
        configs.pop()
    if not no_baseline:
        configs.append(("float32, beam 5 (baseline)", "float32", 5, threads))
    with tempfile.TemporaryDirectory(prefix="faceplay-bench-") as tmp:
        files = list(inputs) or [_synth(Path(tmp))]
        models = {
            (ct, th): WhisperModel(str(folder), device="cpu", compute_type=ct, cpu_threads=th, num_workers=1) for _, ct, _, th in configs
        }
        rows, results = [], []
        for f in files:
            duration = len(load_audio(f)) / SAMPLE_RATE
            per: dict[str, dict] = {}
            for label, ct, beam, th in configs:
                run = lambda: transcribe(f, language="auto", beam_size=beam, model=models[(ct, th)])  # noqa: E731
                run()  # warm-up
                sec, cpu, tr = _time(run, repeats)
                per[label] = {
                    "seconds": round(sec, 3), "rtf": round(sec / duration, 4), "cpu_seconds": round(cpu, 3),
                    "cpu_per_audio_second": round(cpu / duration, 4), "words": len(tr.text.split()), "language": tr.language,
                }
            base = per.get("float32, beam 5 (baseline)")
            for label, r in per.items():
                r["speedup_vs_baseline"] = round(base["seconds"] / r["seconds"], 2) if base else None
                rows.append([f.name, f"{duration:.1f}", label, f"{r['seconds']:.2f}", f"{r['rtf']:.3f}", f"{r['cpu_per_audio_second']:.3f}",
                             r["speedup_vs_baseline"] or "", r["words"]])
            results.append({"input": str(f), "duration": round(duration, 2), "configs": per})
        samples = [] if no_zh else zh_samples(zh_dir)
        if not no_zh and not samples:
            log.warning("no Mandarin clips with transcripts found (%s); the Chinese CER is skipped", zh_dir or ZH_DIR)
        zh_rows, zh = _bench_zh(samples, configs, models, repeats) if samples else ([], {})
    load = [round(x, 2) for x in os.getloadavg()]
    if as_json:
        emit_json({"benchmark": "captions", "threads": threads, "repeats": repeats, "goal_rtf": 0.3, "goal_zh_cer": 0.10,
                   "load_average": load, "results": results, "zh": zh})
        return
    click.echo(table(rows, ["input", "audio s", "config", "time s", "RTF", "CPU s/audio s", "x baseline", "words"]))
    click.echo(
        "RTF = processing time / audio duration (goal <= 0.3 on 2 idle cores); CPU s/audio s counts this process's CPU time "
        f"(less sensitive to other load); x baseline = speed-up over float32 in this run. Load average: {load}."
    )
    if zh_rows:
        click.echo()
        click.echo(table(zh_rows, ["Mandarin set", "audio s", "config", "time s", "RTF", "CPU s/audio s", "CER", "errors/chars"]))
        click.echo("CER = character edits / reference characters after removing punctuation, simplified script, digits read one by one "
                   "(goal <= 0.10); RTF over the whole set, each clip decoded on its own; joined = the clips as one recording, 0.7 s apart.")


def _bench_zh(samples: list[tuple[Path, str]], configs: list, models: dict, repeats: int) -> tuple[list[list], dict]:
    """Character error rate and RTF of every configuration on the Mandarin clips (language zh)."""
    from faceplay.speech.audio import SAMPLE_RATE, load_audio
    from faceplay.speech.quality import edit_distance, normalise_zh
    from faceplay.speech.transcribe import transcribe

    audios = [load_audio(w) for w, _ in samples]
    total = sum(len(a) for a in audios) / SAMPLE_RATE
    gap = np.zeros(int(0.7 * SAMPLE_RATE), np.float32)
    joined = np.concatenate([x for a in audios for x in (a, gap)])
    jdur = len(joined) / SAMPLE_RATE
    label_set = f"{len(samples)} clips"
    rows, out = [], {"clips": [str(w) for w, _ in samples], "duration": round(total, 2), "configs": {}}
    for label, ct, beam, th in configs:
        model = models[(ct, th)]
        transcribe(samples[0][0], language="zh", beam_size=beam, model=model)  # warm-up
        texts: list[str] = []

        def run() -> None:
            texts.clear()
            texts.extend(transcribe(w, language="zh", beam_size=beam, model=model).text for w, _ in samples)

        sec, cpu, _ = _time(run, repeats)
        refs = [normalise_zh(r) for _, r in samples]
        errors = sum(edit_distance(r, normalise_zh(h)) for r, h in zip(refs, texts))
        chars = sum(len(r) for r in refs)
        rate = errors / max(1, chars)
        out["configs"][label] = {"cer": round(rate, 4), "errors": errors, "chars": chars, "seconds": round(sec, 3), "rtf": round(sec / total, 4),
                                 "cpu_per_audio_second": round(cpu / total, 4), "texts": list(texts)}
        rows.append([label_set, f"{total:.1f}", label, f"{sec:.2f}", f"{sec / total:.3f}", f"{cpu / total:.3f}", f"{rate:.3f}", f"{errors}/{chars}"])
        # the same clips as one recording (0.7 s apart): Whisper's fixed cost per 30 s window is shared
        sec, cpu, t = _time(lambda: transcribe(joined, language="zh", beam_size=beam, model=model), repeats)  # noqa: B023
        jerr = edit_distance("".join(refs), normalise_zh(t.text))
        out["configs"][label]["joined"] = {"cer": round(jerr / max(1, chars), 4), "seconds": round(sec, 3), "rtf": round(sec / jdur, 4),
                                           "cpu_per_audio_second": round(cpu / jdur, 4), "text": t.text}
        rows.append(["joined", f"{jdur:.1f}", label, f"{sec:.2f}", f"{sec / jdur:.3f}", f"{cpu / jdur:.3f}", f"{jerr / max(1, chars):.3f}", f"{jerr}/{chars}"])
    return rows, out

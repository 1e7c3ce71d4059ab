"""`faceplay bench matting`: per-frame cost of selfie, meet and RVM."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import click

from faceplay.bench.harness import shared_data, stats
from faceplay.clikit import emit_json, json_option, progress_enabled, table


@click.command()
@click.option("--video", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Video to matte [default: talking_d3.mp4 of the shared test data].")
@click.option("--frames", type=int, default=40, show_default=True, help="Frames to process.")
@click.option("--threads", type=int, multiple=True, default=(1, 2), show_default=True, help="onnxruntime threads to compare.")
@json_option
def matting(video: str, frames: int, threads: tuple[int, ...], as_json: bool) -> None:
    """Milliseconds per frame of PersonSegmenter (selfie, meet) and VideoMatting (RVM).

    Baseline: the selfie model with 1 thread, timed in the same run (ratios
    are reported against it); the end-to-end numbers include resizing the
    matte back to the frame size.
    """
    from tqdm import tqdm

    from faceplay.matting import PersonSegmenter, VideoMatting
    from faceplay.media.video import VideoReader

    video = Path(video) if video else shared_data() / "videos" / "talking_d3.mp4"
    with VideoReader(video) as vr:
        rgbs = [f.rgb for f in itertools.islice(vr, frames)]
    h, w = rgbs[0].shape[:2]
    rows: dict[str, list[float]] = {}
    for th in threads:
        runners = {
            f"selfie 256x256, {th} thread(s)": PersonSegmenter("selfie", threads=th),
            f"meet 144x256, {th} thread(s)": PersonSegmenter("meet", threads=th),
            f"rvm long side 512, {th} thread(s)": VideoMatting(long_side=512, threads=th),
            f"rvm long side 256, {th} thread(s)": VideoMatting(long_side=256, threads=th),
        }
        for name, r in runners.items():
            r.matte(rgbs[0])  # load + warm up
            if hasattr(r, "reset"):
                r.reset()
            for rgb in tqdm(rgbs, desc=name, disable=not progress_enabled(as_json)):
                t0 = time.perf_counter()
                r.matte(rgb)
                rows.setdefault(name, []).append((time.perf_counter() - t0) * 1000.0)
    base = stats(rows[f"selfie 256x256, {threads[0]} thread(s)"])["median_ms"]
    report = [{"model": k, "median_ms": round(stats(v)["median_ms"], 2), "p90_ms": round(stats(v)["p90_ms"], 2),
               "ratio_to_baseline": round(stats(v)["median_ms"] / base, 3)} for k, v in rows.items()]
    if as_json:
        emit_json({"video": str(video), "size": [w, h], "frames": len(rgbs), "results": report})
        return
    click.echo(f"{Path(video).name} {w}x{h}, {len(rgbs)} frames")
    click.echo(table([[r["model"], r["median_ms"], r["p90_ms"], r["ratio_to_baseline"]] for r in report], ["model", "ms", "p90 ms", "x baseline"]))

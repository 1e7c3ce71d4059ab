"""`faceplay bench avatar`: every avatar's video and live speed against raw MediaPipe, in one run.

On the same frames (a 640x480 cut of a real talking-head clip by default):

1. raw MediaPipe FaceLandmarker, VIDEO mode (blendshapes + matrix, no faceplay code
   around it) - the reference fps;
2. per built-in avatar, the video path (``AvatarEffect.process_video``: decode + track one
   thread ahead of effect + encode), the live path (``AvatarStream.live``: a camera loop,
   the next frame tracked while this one renders, as the virtual camera runs) and the push
   path (``AvatarStream.push``, one frame at a time: track then render in the caller's
   thread), all with the CLI's default ``--samples``. The tracker is the default one
   (LiteRT when installed); ``FACEPLAY_TRACKER=mediapipe`` measures the MediaPipe graph.

Reported: fps, the ratio to raw MediaPipe (goal >= 0.5), mean ms per stage, p50/p99/max
ms per frame, the machine and its load. Speed goals live here, not in timed tests.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import click
import numpy as np

from faceplay.bench.harness import stats
from faceplay.clikit import emit_json, json_option, table

log = logging.getLogger(__name__)
GOAL_RATIO = 0.5
PATHS = ("video", "live", "push")


def make_clip(src: Path, dst: Path, width: int = 640, height: int = 480, frames: int = 150) -> Path:
    """Re-encode the first ``frames`` of a real video at width x height (centre-cropped, with its audio)."""
    import cv2

    from faceplay.media.video import VideoReader, VideoWriter

    with VideoReader(src) as r:
        w = VideoWriter(dst, r.fps, width, height, audio_from=src if r.has_audio else None, crf=18)
        try:
            for i, fr in enumerate(r):
                if i >= frames:
                    break
                h0, w0 = fr.rgb.shape[:2]
                if w0 / h0 > width / height:
                    cw = int(h0 * width / height)
                    img = fr.rgb[:, (w0 - cw) // 2:(w0 - cw) // 2 + cw]
                else:
                    ch = int(w0 * height / width)
                    img = fr.rgb[(h0 - ch) // 2:(h0 - ch) // 2 + ch]
                w.write(cv2.resize(np.ascontiguousarray(img), (width, height), interpolation=cv2.INTER_AREA))
        except BaseException:
            w.abort()
            raise
        w.close()
    return dst


def _frames(video: Path) -> list:
    from faceplay.media.video import VideoReader

    with VideoReader(video) as r:
        return [(np.ascontiguousarray(f.rgb), f.timestamp) for f in r]


def raw_mediapipe(frames: list) -> dict:
    """fps of the MediaPipe FaceLandmarker task alone (VIDEO mode) on decoded frames."""
    from faceplay.bench.harness import raw_mediapipe_ms

    st = stats(raw_mediapipe_ms(frames))
    return {"fps": round(1000 / st["mean_ms"], 1), "ms_p50": st["median_ms"], "ms_p99": st["p99_ms"]}


def video_path(video: Path, avatar: str, samples: int) -> dict:
    """The video path: process_video's own summary (fps, per-stage ms, frame ms percentiles)."""
    from faceplay.avatar.effect import AvatarEffect

    with tempfile.TemporaryDirectory() as tmp, AvatarEffect(avatar, samples=samples) as fx:
        res = fx.process_video(video, Path(tmp) / "out.mp4")
    return {"fps": res["fps"], "ms_per_stage": res["ms_per_stage"], "frame_ms": res["frame_ms"],
            "frames_with_faces": res["frames_with_faces"]}


def live_path(frames: list, avatar: str, samples: int, pipeline: bool = True) -> dict:
    """A live stream of ``frames``: ``AvatarStream.live`` (pipelined) or ``AvatarStream.push`` frame by frame.

    Frame ms is the time from a frame's arrival (the loop asking for it) to its output.
    """
    from faceplay.avatar.effect import AvatarEffect
    from faceplay.bench.harness import live_stream

    with AvatarEffect(avatar, samples=samples) as fx:
        fx.warm_up()
        with fx.stream() as live:
            live.push(frames[0][0], 0.0)  # tracker start, not timed
            fx.times.ms.clear()
            live.clock.ms.clear()
            res = live_stream(live, [(rgb, t + 1.0) for rgb, t in frames], pipeline=pipeline)
            stages = {k: round(v / res["frames"], 2) for k, v in {**live.clock.ms, **fx.times.ms}.items()}
            tracker = getattr(live._tracker, "backend", "?")
    return {"fps": res["fps"], "ms_per_stage": stages, "frame_ms": res["frame_ms"], "tracker": tracker}


def run(video: Path, avatars: list[str], samples: int = 4) -> dict:
    """Raw MediaPipe, then each avatar's video and live paths, on the same clip."""
    from faceplay.machine import machine_summary

    frames = _frames(video)
    machine = machine_summary()
    # the baseline is re-measured between the avatars (a shared machine drifts within minutes) and the
    # median run is the reference for every ratio; all runs are reported
    mp_runs = [raw_mediapipe(frames)]
    rows = []
    for name in avatars:
        mp_runs.append(raw_mediapipe(frames))
        row = {"avatar": name, "video": video_path(video, name, samples), "live": live_path(frames, name, samples),
               "push": live_path(frames, name, samples, pipeline=False)}
        rows.append(row)
    mp_res = sorted(mp_runs, key=lambda r: r["fps"])[len(mp_runs) // 2]
    mp_res = {**mp_res, "runs_fps": [r["fps"] for r in mp_runs]}
    for row in rows:
        name = row["avatar"]
        for path in PATHS:
            row[path]["ratio_to_mediapipe"] = round(row[path]["fps"] / mp_res["fps"], 3)
            row[path]["goal_met"] = row[path]["ratio_to_mediapipe"] >= GOAL_RATIO
        log.info("%s: video %.1f fps, live %.1f fps, push %.1f fps (raw MediaPipe %.1f fps)", name, row["video"]["fps"],
                 row["live"]["fps"], row["push"]["fps"], mp_res["fps"])
    return {"benchmark": "avatar", "clip": str(video), "frames": len(frames), "size": list(frames[0][0].shape[1::-1]),
            "msaa_samples": samples, "raw_mediapipe": mp_res, "avatars": rows, "goal_ratio": GOAL_RATIO,
            "machine": {**machine, "load_1min_end": machine_summary()["load_1min"]}}


@click.command()
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="Input video (default: talking_d3 from ../shared, cut to 640x480).")
@click.option("-a", "--avatar", "avatars", multiple=True, help="Avatar(s) to measure (default: every built-in).")
@click.option("--frames", default=150, show_default=True, help="Frames of the default clip.")
@click.option("--samples", type=click.IntRange(0, 8), default=4, show_default=True, help="MSAA samples, as `faceplay avatar --samples`.")
@json_option
def avatar(video, avatars, frames, samples, as_json) -> None:
    """Avatar fps, video and live paths, per built-in avatar vs raw MediaPipe (goal >= 0.5x)."""
    from faceplay.avatar.model import builtin_names
    from faceplay.errors import InputNotFoundError

    from faceplay.bench.harness import shared_data

    names = list(avatars) or builtin_names()
    with tempfile.TemporaryDirectory() as tmp:
        if video is None:
            src = shared_data() / "videos" / "talking_d3.mp4"
            if not src.is_file():
                raise InputNotFoundError(f"{src} not found; pass --video FILE")
            video = make_clip(src, Path(tmp) / "clip640x480.mp4", frames=frames)
        res = run(video, names, samples)
    if as_json:
        emit_json(res)
        return
    m, mp_res = res["machine"], res["raw_mediapipe"]
    click.echo(f"{m.get('model', '?')} ({m.get('cores', '?')} cores), load {m['load_1min']} -> {m['load_1min_end']}; "
               f"{res['frames']} frames {res['size'][0]}x{res['size'][1]}, --samples {samples}")
    click.echo(f"raw MediaPipe FaceLandmarker (VIDEO): {mp_res['fps']} fps (median of runs {mp_res['runs_fps']}), "
               f"p50 {mp_res['ms_p50']} ms")
    click.echo(f"tracker: {res['avatars'][0]['live']['tracker'] if res['avatars'] else '?'}")
    rows = []
    for r in res["avatars"]:
        for path in PATHS:
            x = r[path]
            st = x["ms_per_stage"]
            rows.append([r["avatar"], path, x["fps"], x["ratio_to_mediapipe"],
                         " ".join(f"{k} {v:.1f}" for k, v in st.items()), x["frame_ms"]["p50"], x["frame_ms"]["p99"],
                         x["frame_ms"]["max"]])
    click.echo(table(rows, ["avatar", "path", "fps", "x MediaPipe", "ms per stage", "p50 ms", "p99 ms", "max ms"]))

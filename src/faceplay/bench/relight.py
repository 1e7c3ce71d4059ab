"""`faceplay bench relight`: relighting speed at 640x480 against raw MediaPipe on the same frames.

Frames of a real talking-head video are letterboxed to 640x480. In one process,
on the same frames: (1) the raw MediaPipe FaceLandmarker task (VIDEO mode,
blendshapes + matrix, no faceplay code) — the baseline of issue 15; (2) face
tracking alone (MediaPipe + faceplay's Face objects and One-Euro smoothing);
(3) tracking + relighting frame by frame (fit, shading pass, matte, light
estimate, shading, blend), with per-stage medians; (4) the video path, what
`faceplay relight clip.mp4` runs: :func:`~faceplay.relight.api.relight_video`
on an H.264 file of those frames (decode + track one thread ahead, relight,
encode). Reports fps and the ratio to raw MediaPipe (goal ≥ 0.5). The CPU is
shared, so compare ratios, not absolute numbers.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import click
import cv2
import numpy as np

from faceplay.clikit import emit_json, json_option, table

log = logging.getLogger(__name__)



def load_frames(path: Path, n: int, size=(640, 480)) -> list[np.ndarray]:
    """The first ``n`` frames, letterboxed into ``size`` (RGB)."""
    from faceplay.media.video import VideoReader

    W, H = size
    out = []
    with VideoReader(path) as r:
        for f in r:
            h, w = f.rgb.shape[:2]
            s = min(W / w, H / h)
            im = cv2.resize(f.rgb, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
            canvas = np.full((H, W, 3), 40, np.uint8)
            y0, x0 = (H - im.shape[0]) // 2, (W - im.shape[1]) // 2
            canvas[y0:y0 + im.shape[0], x0:x0 + im.shape[1]] = im
            out.append(canvas)
            if len(out) >= n:
                break
    return out


def raw_mediapipe(frames: list[np.ndarray], fps: float = 30.0) -> float:
    """Mean ms per frame of the MediaPipe FaceLandmarker task alone (VIDEO mode) on ``frames``."""
    from faceplay.bench.harness import raw_mediapipe_ms

    return statistics.fmean(raw_mediapipe_ms([(f, i / fps) for i, f in enumerate(frames)]))


def video_path(frames: list[np.ndarray], rig, fps: float = 30.0) -> dict:
    """``relight_video`` on an H.264 file of ``frames``: its summary (fps, per-stage ms)."""
    import tempfile

    from faceplay.media.video import VideoWriter
    from faceplay.relight.api import relight_video

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "frames.mp4"
        h, w = frames[0].shape[:2]
        with VideoWriter(src, fps, w, h, crf=16) as wr:
            for f in frames:
                wr.write(f)
        return relight_video(src, Path(tmp) / "out.mp4", rig, 0.8)


def live_path(frames: list[np.ndarray], rig, fps: float = 30.0) -> dict:
    """A live stream of ``frames`` through ``Runner.live`` (tracking one frame ahead): fps and
    per-frame latency (frame arrival to relit frame)."""
    from faceplay.bench.harness import live_stream
    from faceplay.face.types import RunningMode
    from faceplay.relight.effect import RelightEffect
    from faceplay.runner import Runner

    with RelightEffect(rig, 0.8) as fx, Runner(fx, RunningMode.LIVE) as run:
        run.push(frames[0], 0.0)  # tracker and GL start, not timed
        res = live_stream(run, [(f, 1.0 + i / fps) for i, f in enumerate(frames)])
    return {"fps": res["fps"], "frame_ms": res["frame_ms"]}


def run(frames: list[np.ndarray], preset_name: str = "studio", fps: float = 30.0) -> dict:
    """Measure raw MediaPipe, tracking alone, tracking + relighting and the video path on the same frames."""
    from faceplay.face.track import FaceTracker
    from faceplay.relight.lights import preset
    from faceplay.relight.relighter import Relighter, RelightState

    from faceplay.face.track import resolve_backend
    from faceplay.machine import machine_summary

    machine = machine_summary()
    rig = preset(preset_name)
    # warm-up (model loads, GL context, shader compile) outside the timings
    with FaceTracker(max_faces=1) as tr, Relighter(video=True) as r:
        faces = tr.update(frames[0], 0.0)
        r.relight(frames[0], faces, rig, 0.8, state=RelightState())
    raw_ms = raw_mediapipe(frames, fps)

    track_ms = []
    with FaceTracker(max_faces=1) as tr:
        for i, f in enumerate(frames):
            t = time.perf_counter()
            tr.update(f, i / fps)
            track_ms.append((time.perf_counter() - t) * 1e3)

    total_ms, stages = [], {}
    n_faces = 0
    with FaceTracker(max_faces=1) as tr, Relighter(video=True) as r:
        state = RelightState()
        for i, f in enumerate(frames):
            t = time.perf_counter()
            faces = tr.update(f, i / fps)
            t1 = time.perf_counter()
            r.relight(f, faces, rig, 0.8, state=state)
            total_ms.append((time.perf_counter() - t) * 1e3)
            if faces:
                n_faces += 1
                stages.setdefault("track_ms", []).append((t1 - t) * 1e3)
                for k, v in r.timings.items():
                    stages.setdefault(k, []).append(v)
    vid = video_path(frames, rig, fps)
    live = live_path(frames, rig, fps)
    med = statistics.median
    tt, te, raw_fps = med(track_ms), statistics.fmean(total_ms), 1000 / raw_ms
    return {
        "frames": len(frames),
        "frames_with_faces": n_faces,
        "size": [frames[0].shape[1], frames[0].shape[0]],
        "preset": preset_name,
        "raw_mediapipe_ms": round(raw_ms, 2),
        "raw_mediapipe_fps": round(raw_fps, 1),
        "tracking_ms": round(tt, 2),
        "tracking_fps": round(1000 / tt, 1),
        "end_to_end_ms": round(med(total_ms), 2),
        "end_to_end_mean_ms": round(te, 2),
        "end_to_end_fps": round(1000 / te, 1),
        "end_to_end_over_raw_mediapipe": round(1000 / te / raw_fps, 2),
        "video_fps": vid["fps"],
        "video_over_raw_mediapipe": round(vid["fps"] / raw_fps, 2),
        "video_stages_ms": vid.get("ms_per_stage"),
        "live_fps": live["fps"],
        "live_over_raw_mediapipe": round(live["fps"] / raw_fps, 2),
        "live_frame_ms": live["frame_ms"],
        "tracker": resolve_backend(),
        "machine": machine,
        "stages_ms": {k: round(med(v), 2) for k, v in stages.items()},
        "goal_ratio": 0.5,
    }


@click.command()
@click.option("--video", type=click.Path(), default=None,
              help="A real talking-head video (frames are letterboxed to 640x480) [default: talking_d3.mp4 of the shared data].")
@click.option("--frames", "n", type=int, default=150, show_default=True, help="How many frames of the video to time.")
@click.option("--preset", "preset_name", default="studio", show_default=True, help="The light preset relit with.")
@json_option
def relight(video, n, preset_name, as_json):
    """Frames per second of relighting at 640x480 against raw MediaPipe FaceLandmarker on the same frames."""
    from faceplay.bench.harness import shared_data
    from faceplay.errors import InputNotFoundError

    p = Path(video) if video else shared_data() / "videos" / "talking_d3.mp4"
    if not p.is_file():
        raise InputNotFoundError(f"{p}: benchmark video not found; pass --video PATH")
    res = run(load_frames(p, n), preset_name)
    res["video"] = p.name
    if as_json:
        emit_json(res)
        return
    m = res["machine"]
    click.echo(f"{m.get('model', '?')} ({m.get('cores', '?')} cores), load {m['load_1min']}; tracker {res['tracker']}")
    click.echo(f"{res['frames']} frames of {p.name} at 640x480 ({res['frames_with_faces']} with a face), preset {preset_name}")
    rows = [("raw MediaPipe FaceLandmarker", res["raw_mediapipe_ms"], res["raw_mediapipe_fps"], 1.0),
            ("tracking alone (median)", res["tracking_ms"], res["tracking_fps"], round(res["tracking_fps"] / res["raw_mediapipe_fps"], 2)),
            ("tracking + relight, 1 thread (mean)", res["end_to_end_mean_ms"], res["end_to_end_fps"],
             res["end_to_end_over_raw_mediapipe"]),
            ("video path: relight_video (decode, track thread, encode)", round(1000 / max(res["video_fps"], 1e-6), 2),
             res["video_fps"], res["video_over_raw_mediapipe"]),
            ("live path: Runner.live (track thread)", round(1000 / max(res["live_fps"], 1e-6), 2), res["live_fps"],
             res["live_over_raw_mediapipe"])]
    click.echo(table(rows, ["pipeline", "ms/frame", "fps", "x raw MediaPipe"]))
    lf = res["live_frame_ms"]
    click.echo(f"live latency (arrival to relit frame): p50 {lf['p50']} ms, p99 {lf['p99']} ms, max {lf['max']} ms")
    click.echo(f"goal: ≥ {res['goal_ratio']} x raw MediaPipe")
    click.echo(table(sorted(res["stages_ms"].items()), ["stage", "ms (median)"]))

"""`faceplay bench relight`: end-to-end relighting speed at 640x480 vs tracking alone.

Frames of a real talking-head video are padded/resized to 640x480. The same
frames are run twice in this process: (1) face tracking alone (the baseline),
(2) tracking + relighting (fit, shading pass, matte, light estimate, shading,
blend). Reports frames per second, their ratio and the per-stage milliseconds
(medians). The CPU is shared, so compare the ratio, not the absolute numbers.
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

DEFAULT_VIDEO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "videos" / "talking_d3.mp4"


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


def run(frames: list[np.ndarray], preset_name: str = "studio", fps: float = 30.0) -> dict:
    """Measure tracking alone and tracking + relighting on the same frames."""
    from faceplay.face.track import FaceTracker
    from faceplay.relight.lights import preset
    from faceplay.relight.relighter import Relighter, RelightState

    rig = preset(preset_name)
    # warm-up (model loads, GL context, shader compile) outside the timings
    with FaceTracker(max_faces=1) as tr, Relighter(video=True) as r:
        faces = tr.update(frames[0], 0.0)
        r.relight(frames[0], faces, rig, 0.8, state=RelightState())

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
    # the same, pipelined as `faceplay relight` runs videos: tracking one thread ahead of relighting
    from faceplay.relight.api import tracked

    class _F:
        def __init__(self, rgb, ts):
            self.rgb, self.timestamp = rgb, ts

    with FaceTracker(max_faces=1) as tr, Relighter(video=True) as r:
        state = RelightState()
        t = time.perf_counter()
        for fr, faces in tracked((_F(f, i / fps) for i, f in enumerate(frames)), tr):
            r.relight(fr.rgb, faces, rig, 0.8, state=state)
        pipelined_ms = (time.perf_counter() - t) * 1e3 / len(frames)
    med = statistics.median
    tt, te = med(track_ms), med(total_ms)
    return {
        "frames": len(frames),
        "frames_with_faces": n_faces,
        "size": [frames[0].shape[1], frames[0].shape[0]],
        "preset": preset_name,
        "tracking_ms": round(tt, 2),
        "tracking_fps": round(1000 / tt, 1),
        "end_to_end_ms": round(te, 2),
        "end_to_end_fps": round(1000 / te, 1),
        "end_to_end_mean_ms": round(statistics.fmean(total_ms), 2),
        "relight_over_tracking": round(te / tt, 2),
        "pipelined_ms": round(pipelined_ms, 2),
        "pipelined_fps": round(1000 / pipelined_ms, 1),
        "pipelined_over_tracking": round(pipelined_ms / tt, 2),
        "stages_ms": {k: round(med(v), 2) for k, v in stages.items()},
        "goal_fps": 30,
    }


@click.command()
@click.option("--video", type=click.Path(), default=str(DEFAULT_VIDEO), show_default=True,
              help="A real talking-head video (frames are letterboxed to 640x480).")
@click.option("--frames", "n", type=int, default=150, show_default=True)
@click.option("--preset", "preset_name", default="studio", show_default=True)
@json_option
def relight(video, n, preset_name, as_json):
    """Frames per second of relighting at 640x480, per stage, against tracking alone."""
    from faceplay.errors import InputNotFoundError

    p = Path(video)
    if not p.is_file():
        raise InputNotFoundError(f"{p}: benchmark video not found; pass --video PATH")
    res = run(load_frames(p, n), preset_name)
    res["video"] = p.name
    if as_json:
        emit_json(res)
        return
    click.echo(f"{res['frames']} frames of {p.name} at 640x480 ({res['frames_with_faces']} with a face), preset {preset_name}")
    rows = [("tracking alone", res["tracking_ms"], res["tracking_fps"]),
            ("tracking + relight", res["end_to_end_ms"], res["end_to_end_fps"]),
            ("same, pipelined (2 threads)", res["pipelined_ms"], res["pipelined_fps"])]
    click.echo(table(rows, ["pipeline", "ms/frame (median)", "fps"]))
    click.echo(f"time per frame relative to tracking alone: sequential {res['relight_over_tracking']}, "
               f"pipelined {res['pipelined_over_tracking']}")
    click.echo(table(sorted(res["stages_ms"].items()), ["stage", "ms (median)"]))

"""`faceplay bench avatar`: end-to-end avatar video speed vs. tracking alone (same run)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from faceplay.clikit import emit_json, json_option

log = logging.getLogger(__name__)


def make_clip(src: Path, dst: Path, width: int = 640, height: int = 480, frames: int = 150) -> Path:
    """Re-encode the first ``frames`` of a real video at width x height (with its audio)."""
    import cv2

    from faceplay.media.video import VideoReader, VideoWriter

    with VideoReader(src) as r:
        w = VideoWriter(dst, r.fps, width, height, audio_from=src if r.has_audio else None, crf=18)
        try:
            for i, fr in enumerate(r):
                if i >= frames:
                    break
                h0, w0 = fr.rgb.shape[:2]
                # centre-crop to 4:3, then scale
                target = width / height
                if w0 / h0 > target:
                    cw = int(h0 * target)
                    img = fr.rgb[:, (w0 - cw) // 2:(w0 - cw) // 2 + cw]
                else:
                    ch = int(w0 / target)
                    img = fr.rgb[(h0 - ch) // 2:(h0 - ch) // 2 + ch]
                w.write(cv2.resize(np.ascontiguousarray(img), (width, height), interpolation=cv2.INTER_AREA))
        except BaseException:
            w.abort()
            raise
        w.close()
    return dst


def run(video: Path, avatar: str = "toon", samples: int = 0, pipeline: bool = True) -> dict:
    """Measure tracking alone, then the whole effect, on the same clip."""
    from faceplay.avatar.effect import AvatarEffect
    from faceplay.face.track import FaceTracker
    from faceplay.media.video import VideoReader

    frames = []
    t0 = time.perf_counter()
    with VideoReader(video) as r:
        for fr in r:
            frames.append(fr)
    decode_ms = (time.perf_counter() - t0) * 1000 / max(len(frames), 1)
    with FaceTracker() as tr:
        tr.update(frames[0].rgb, 0.0)  # warm-up (graph start)
        t0 = time.perf_counter()
        for fr in frames:
            tr.update(fr.rgb, fr.timestamp + 1.0)
        track_ms = (time.perf_counter() - t0) * 1000 / len(frames)
    del frames
    with tempfile.TemporaryDirectory() as tmp, AvatarEffect(avatar, samples=samples) as fx:
        fx.renderer  # create the GL context before timing
        res = fx.process_video(video, Path(tmp) / "out.mp4", pipeline=pipeline)
    e2e_fps = res["fps"]
    track_fps = 1000.0 / track_ms
    return {
        "video": str(video), "avatar": avatar, "msaa_samples": samples, "pipelined": pipeline, "frames": res["frames"],
        "frames_with_faces": res["frames_with_faces"],
        "end_to_end_fps": round(e2e_fps, 1), "tracking_alone_fps": round(track_fps, 1),
        "ratio_end_to_end_to_tracking": round(e2e_fps / track_fps, 3),
        "tracking_alone_ms": round(track_ms, 2), "decode_alone_ms": round(decode_ms, 2),
        "ms_per_stage": res["ms_per_stage"], "goal_fps": 30, "goal_met": e2e_fps >= 30,
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    }


@click.command()
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="Input video (default: talking_d3 from ../shared, re-encoded at 640x480).")
@click.option("--avatar", "avatar_name", default="toon", show_default=True)
@click.option("--frames", default=150, show_default=True, help="Frames of the default clip.")
@click.option("--samples", "samples_list", default="0,4", show_default=True, help="MSAA settings to measure (comma separated).")
@click.option("--serial/--no-serial", default=True, show_default=True, help="Also measure without the decode/track worker thread.")
@json_option
def avatar(video, avatar_name, frames, samples_list, serial, as_json) -> None:
    """End-to-end avatar fps (decode, track, render, composite, encode) vs. tracking alone."""
    from faceplay.errors import InputNotFoundError

    root = Path(__file__).resolve().parents[3]
    with tempfile.TemporaryDirectory() as tmp:
        if video is None:
            src = root.parent / "shared" / "data" / "videos" / "talking_d3.mp4"
            if not src.is_file():
                raise InputNotFoundError(f"{src} not found; pass --video FILE")
            video = make_clip(src, Path(tmp) / "clip640x480.mp4", frames=frames)
        samples = [int(s) for s in samples_list.split(",")]
        results = [run(video, avatar_name, s) for s in samples]
        if serial:
            results.append(run(video, avatar_name, samples[0], pipeline=False))
    if as_json:
        emit_json({"benchmark": "avatar", "results": results})
    else:
        for r in results:
            click.echo(json.dumps(r, indent=1))

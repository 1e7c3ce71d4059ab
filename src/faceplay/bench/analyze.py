"""`faceplay bench analyze`: FaceAnalyzer speed against raw MediaPipe, in one run.

Stages, on the decoded frames of a real clip (decode timed separately):

- ``mediapipe_raw``: MediaPipe Tasks FaceLandmarker, VIDEO mode, blendshapes and
  transformation matrix on — the baseline;
- ``track``: faceplay's FaceTracker (the same MediaPipe call plus conversion to
  ``Face``, track ids and One-Euro smoothing);
- ``attributes``: age + gender + expression + embedding for one face;
- ``photo``: a whole photo analysis (YuNet + landmarks on the face crop);
- memory: RSS after 100 and after N frames of continuous tracking + attributes
  (the clip is looped), and Python allocations per frame (tracemalloc).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from pathlib import Path

import click

from faceplay.bench.harness import describe_machine, machine, rss_mb, shared_data
from faceplay.bench.harness import stats as _stats
from faceplay.clikit import emit_json, json_option, table


def run_analyze_bench(clip: Path, long_frames: int = 1000, precision: str = "auto") -> dict:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from faceplay import models
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media import VideoReader
    from faceplay.native import quiet_stderr

    t0 = time.perf_counter()
    with VideoReader(clip) as r:
        frames = list(r)
    decode_ms = (time.perf_counter() - t0) * 1000 / len(frames)

    # 1. raw MediaPipe, VIDEO mode
    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(models.model_path("face_landmarker"))),
        running_mode=vision.RunningMode.VIDEO, num_faces=5,
        output_face_blendshapes=True, output_facial_transformation_matrixes=True,
    )
    raw_ms = []
    with quiet_stderr():
        from faceplay.face.landmarker import guard_mediapipe_finaliser

        guard_mediapipe_finaliser(vision.FaceLandmarker)
        lm = vision.FaceLandmarker.create_from_options(opts)
    try:
        for i, fr in enumerate(frames):
            img = mp.Image(image_format=mp.ImageFormat.SRGB, data=fr.rgb)
            t = time.perf_counter()
            lm.detect_for_video(img, int(fr.timestamp * 1000) + 1)
            raw_ms.append((time.perf_counter() - t) * 1000)
    finally:
        lm.close()

    # 2. faceplay tracking
    track_ms, faces_seen = [], []
    with FaceAnalyzer(precision=precision) as fa:
        with fa.tracker() as tracker:
            for fr in frames:
                t = time.perf_counter()
                faces = tracker.update(fr.rgb, fr.timestamp)
                track_ms.append((time.perf_counter() - t) * 1000)
                if faces:
                    faces_seen.append((fr, faces[0]))

        # 3. attributes + embedding for one face (fresh Frame so nothing is cached)
        from faceplay.media.frame import Frame

        attr_ms = []
        per_field: dict[str, list[float]] = {"embedding": [], "age_gender": [], "expression": []}
        for fr, face in faces_seen[:: max(1, len(faces_seen) // 60)]:
            frame = Frame(fr.rgb, fr.index, fr.timestamp)
            face.embedding = face.age = face.gender = face.expression = None
            t = time.perf_counter()
            fa.complete(frame, [face], ["age", "gender", "expression", "embedding"])
            attr_ms.append((time.perf_counter() - t) * 1000)
            for key, fields in (("embedding", ["embedding"]), ("age_gender", ["age", "gender"]), ("expression", ["expression"])):
                frame = Frame(fr.rgb, fr.index, fr.timestamp)
                face.embedding = face.age = face.gender = face.expression = None
                t = time.perf_counter()
                fa.complete(frame, [face], fields)
                per_field[key].append((time.perf_counter() - t) * 1000)

        # 4. photos
        photo_ms = []
        faces_dir = clip.parent
        photos = sorted(p for p in faces_dir.glob("*.jp*g"))[:10]
        for p in photos:
            from faceplay.media import read_image

            rgb = read_image(p)
            t = time.perf_counter()
            fa.analyze(rgb)
            photo_ms.append((time.perf_counter() - t) * 1000)

        # 5. memory over a long run: tracking + attributes every frame, clip looped
        gc.collect()
        rss = {}
        alloc_kb = []
        with fa.tracker() as tracker:
            n = 0
            ts = 0.0
            dt = 1.0 / 29.97
            bar_total = long_frames
            from tqdm import tqdm

            with tqdm(total=bar_total, desc="memory run", unit="frame", leave=False) as bar:
                while n < long_frames:
                    for fr in frames:
                        if n >= long_frames:
                            break
                        measure = 200 <= n < 230
                        if measure:
                            tracemalloc.start()
                        frame = Frame(fr.rgb, n, ts)
                        faces = tracker.update(frame.rgb, ts)
                        fa.complete(frame, faces, ["age", "gender", "expression", "embedding"])
                        if measure:
                            cur, peak = tracemalloc.get_traced_memory()
                            tracemalloc.stop()
                            alloc_kb.append(peak / 1024)
                        n += 1
                        ts += dt
                        if n in (100, long_frames):
                            gc.collect()
                            rss[n] = rss_mb()
                        bar.update(1)

    raw = _stats(raw_ms)
    trk = _stats(track_ms)
    return {
        "machine": machine(),
        "clip": str(clip), "frames": len(frames), "frames_with_faces": len(faces_seen),
        "decode_ms_per_frame": round(decode_ms, 3),
        "mediapipe_raw": raw | {"fps": round(1000 / raw["mean_ms"], 1)},
        "track": trk | {"fps": round(1000 / trk["mean_ms"], 1)},
        "track_vs_raw_ratio": round(trk["mean_ms"] / raw["mean_ms"], 3),
        "attributes_one_face": _stats(attr_ms),
        "attributes_by_model": {k: _stats(v) for k, v in per_field.items()},
        "photo_analyze": _stats(photo_ms),
        "memory": {
            "rss_mb_after_100": round(rss.get(100, 0.0), 1),
            f"rss_mb_after_{long_frames}": round(rss.get(long_frames, 0.0), 1),
            "rss_growth_pct": round(100 * (rss.get(long_frames, 0) - rss.get(100, 0)) / max(rss.get(100, 1), 1), 2),
            "python_alloc_peak_kb_per_frame": round(statistics.median(alloc_kb), 1) if alloc_kb else None,
        },
        "precision": precision,
    }


@click.command()
@click.option("--clip", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Video to track [default: the hamilton clip of the shared test data].")
@click.option("--frames", "long_frames", default=1000, show_default=True, help="Frames of the memory run (clip looped).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "int8"]), default="auto", show_default=True)
@json_option
def analyze(clip, long_frames, precision, as_json):
    """Tracking vs raw MediaPipe, attribute cost per face, photo analysis, memory over a long run."""
    res = run_analyze_bench(Path(clip) if clip else shared_data() / "faces" / "short_hamilton_clip.mp4", long_frames, precision)
    if as_json:
        emit_json(res)
        return
    rows = [
        ["decode", f"{res['decode_ms_per_frame']:.2f}", "", ""],
        ["mediapipe raw (VIDEO)", f"{res['mediapipe_raw']['median_ms']:.2f}", f"{res['mediapipe_raw']['p90_ms']:.2f}", f"{res['mediapipe_raw']['fps']}"],
        ["faceplay track", f"{res['track']['median_ms']:.2f}", f"{res['track']['p90_ms']:.2f}", f"{res['track']['fps']}"],
        ["age+gender+expression+embedding / face", f"{res['attributes_one_face']['median_ms']:.2f}", f"{res['attributes_one_face']['p90_ms']:.2f}", ""],
        *[[f"  {k}", f"{v['median_ms']:.2f}", f"{v['p90_ms']:.2f}", ""] for k, v in res["attributes_by_model"].items()],
        ["photo analyze (YuNet + landmarks)", f"{res['photo_analyze']['median_ms']:.2f}", f"{res['photo_analyze']['p90_ms']:.2f}", ""],
    ]
    click.echo(table(rows, ["stage", "median ms", "p90 ms", "fps"]))
    click.echo(f"\ntracking / raw MediaPipe = {res['track_vs_raw_ratio']:.2f}x (goal <= 1.5x)")
    m = res["memory"]
    click.echo(f"RSS after 100 frames {m['rss_mb_after_100']} MB, after {long_frames}: {m[f'rss_mb_after_{long_frames}']} MB "
               f"({m['rss_growth_pct']:+.2f} %); Python allocations per frame (peak) {m['python_alloc_peak_kb_per_frame']} KB")
    click.echo(describe_machine(res["machine"]))

"""`faceplay bench photos`: photo analysis with the two-scale detection pyramid vs one scale.

Every photo of ``../shared/data/faces`` (``$FACEPLAY_SHARED``) is analysed by two
detectors, one searching only the <= 1280 px scale with no weak candidates (as before issue 11) and one
with the full pyramid (:data:`faceplay.face.detect.DETECT_SIDES`), timed in
alternation in the same run so machine load hits both alike. Also counts faces
found in close-up crops (face >= 80 % of the frame) by each.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from faceplay.clikit import emit_json, json_option, table


def run_photos_bench(faces_dir: Path, *, rounds: int = 5) -> dict:
    """Per-photo ms of one-scale vs pyramid detection (+ landmarks); JSON-able."""
    import cv2

    from faceplay.bench.harness import machine
    from faceplay.face.detect import DETECT_MAX_SIDE, PhotoFaceDetector
    from faceplay.media import read_image

    photos = [read_image(p) for p in sorted(faces_dir.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    dets = {"one_scale": PhotoFaceDetector(sides=(DETECT_MAX_SIDE,), weak_score=1.0), "pyramid": PhotoFaceDetector()}
    times: dict[str, list[float]] = {k: [] for k in dets}
    found = {k: 0 for k in dets}
    close_found = {k: 0 for k in dets}
    try:
        for d in dets.values():
            d.detect(photos[0])  # warm-up: load models
        for r in range(rounds):
            for rgb in photos:
                for k in (list(dets) if r % 2 == 0 else list(reversed(dets))):
                    t = time.perf_counter()
                    faces = dets[k].detect(rgb)
                    times[k].append((time.perf_counter() - t) * 1000.0)
                    if r == 0:
                        found[k] += len(faces)
        for rgb in photos:  # close-ups made from each photo's largest face
            faces = dets["pyramid"].detect(rgb)
            if not faces:
                continue
            x, y, w, h = faces[0].box
            crop = rgb[int(max(0, y - 0.05 * h)):int(y + 1.05 * h), int(max(0, x - 0.05 * w)):int(x + 1.05 * w)]
            crop = cv2.resize(crop, (900, round(crop.shape[0] * 900 / crop.shape[1])), interpolation=cv2.INTER_CUBIC)
            for k, d in dets.items():
                close_found[k] += bool(d.detect(crop))
    finally:
        for d in dets.values():
            d.close()
    stats = {k: {"median_ms": round(float(np.median(v)), 2), "mean_ms": round(float(np.mean(v)), 2),
                 "p90_ms": round(float(np.percentile(v, 90)), 2), "faces_found": found[k],
                 "close_ups_found": close_found[k]} for k, v in times.items()}
    return {"machine": machine(), "photos": len(photos), "rounds": rounds, **stats,
            "pyramid_vs_one_scale_time": round(stats["pyramid"]["mean_ms"] / stats["one_scale"]["mean_ms"], 3)}


@click.command("photos")
@click.option("--rounds", default=5, show_default=True, help="Passes over the photos per detector.")
@json_option
def photos(rounds, as_json):
    """Photo analysis: two-scale detection pyramid vs one scale (time, faces, close-ups found)."""
    from faceplay.bench.harness import shared_data

    res = run_photos_bench(shared_data() / "faces", rounds=rounds)
    if as_json:
        emit_json(res)
        return
    rows = [[k, res[k]["median_ms"], res[k]["mean_ms"], res[k]["p90_ms"], res[k]["faces_found"],
             f"{res[k]['close_ups_found']}/{res['photos']}"] for k in ("one_scale", "pyramid")]
    click.echo(table(rows, ["detector", "median ms", "mean ms", "p90 ms", "faces found", "close-ups found"]))
    m = res["machine"]
    click.echo(f"\npyramid / one scale time = {res['pyramid_vs_one_scale_time']:.2f}x (goal <= 1.3x); "
               f"{res['photos']} photos x {res['rounds']} rounds; CPU {m['model']} {m['family']}, load {m['load_1min']}")

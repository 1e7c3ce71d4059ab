"""`faceplay bench attributes`: per-face cost of the age/gender/expression models."""

from __future__ import annotations

from pathlib import Path

import click

from faceplay.bench.harness import shared_data, stats, time_ms
from faceplay.clikit import emit_json, json_option, progress_enabled, table


def _ms(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    return stats(time_ms(fn, repeat, warmup=0))["median_ms"]


@click.command()
@click.option("--photos", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of photos with faces [default: the shared test photos].")
@click.option("--repeat", type=int, default=5, show_default=True, help="Runs per face and model (median is reported).")
@click.option("--threads", type=int, multiple=True, default=(1, 2), show_default=True, help="onnxruntime threads to compare.")
@json_option
def attributes(photos: str, repeat: int, threads: tuple[int, ...], as_json: bool) -> None:
    """Per-face milliseconds of the shared crop, faceres, GEAR and emotion.

    Baseline: the FaceAnalyzer pass on the same photos (detection + 478
    landmarks + blendshapes + pose), timed in the same run; the report gives
    each model's cost as a ratio of that baseline.
    """
    from tqdm import tqdm

    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.face.attributes import (
        AgeGenderModel,
        EmotionModel,
        GearModel,
        face_crop,
    )
    from faceplay.face.base import Model
    from faceplay.media.frame import Frame
    from faceplay.media.image import is_image_path, read_image

    photos = Path(photos) if photos else shared_data() / "faces"
    paths = sorted(p for p in photos.iterdir() if is_image_path(p))
    rows: dict[str, list[float]] = {}
    n_faces = 0
    with FaceAnalyzer() as fa:
        items = []
        for p in tqdm(paths, desc="analyze", disable=not progress_enabled(as_json)):
            rgb = read_image(p)
            base = _ms(lambda: fa.analyze(Frame(rgb)), max(1, repeat // 2))
            frame = Frame(rgb)
            faces = fa.analyze(frame)
            if faces:
                items.append((rgb, faces))
                rows.setdefault("baseline: FaceAnalyzer.analyze per photo", []).append(base)
        for th in threads:
            models: dict[str, Model] = {
                "faceres": AgeGenderModel(threads=th, use_gear=False),
                "gear": GearModel(threads=th),
                "emotion": EmotionModel(threads=th),
            }
            for m in models.values():
                m.prepare()
            for rgb, faces in tqdm(items, desc=f"models x{th} threads", disable=not progress_enabled(as_json)):
                for face in faces:
                    if th == threads[0]:
                        rows.setdefault("shared crop (256 px, de-rotated)", []).append(
                            _ms(lambda: face_crop(Frame(rgb), face), repeat))
                        n_faces += 1
                    frame = Frame(rgb)
                    face_crop(frame, face)  # the crop is shared: time the models without it
                    for name, m in models.items():
                        x = m.preprocess(frame, face)
                        rows.setdefault(f"{name} forward, {th} thread(s)", []).append(_ms(lambda: m.forward(x), repeat))
                    rows.setdefault(f"age+gender+expression get(), {th} thread(s)", []).append(
                        _ms(lambda: _all(frame, face, models), repeat))
    base = stats(rows["baseline: FaceAnalyzer.analyze per photo"])["median_ms"]
    report = [{"step": k, "median_ms": round(stats(v)["median_ms"], 2), "ratio_to_baseline": round(stats(v)["median_ms"] / base, 3), "n": len(v)}
              for k, v in rows.items()]
    if as_json:
        emit_json({"photos": len(items), "faces": n_faces, "repeat": repeat, "results": report})
        return
    click.echo(f"{len(items)} photos, {n_faces} faces, median of {repeat} runs")
    click.echo(table([[r["step"], r["median_ms"], r["ratio_to_baseline"]] for r in report], ["step", "ms", "x baseline"]))


def _all(frame, face, models) -> None:
    frame._cache.clear()
    models["faceres"].get(frame, face)
    models["gear"].get(frame, face)
    models["emotion"].get(frame, face)

"""`faceplay analyze` and `faceplay verify`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import click

from faceplay.clikit import emit_json, json_option, progress_enabled, table
from faceplay.errors import FaceplayError, InputError, InputNotFoundError
from faceplay.face.types import FIELD_GROUPS, FIELDS

log = logging.getLogger(__name__)


def iter_inputs(paths: tuple[str, ...]) -> Iterator[Path]:
    """Images and videos named on the command line; folders are recursed (sorted)."""
    from faceplay.media import is_image_path, is_video_path

    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputNotFoundError(f"{p}: no such file or folder; check the path")
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and (is_image_path(q) or is_video_path(q)))
            if not found:
                log.warning("%s: no images or videos inside", p)
            yield from found
        else:
            yield p


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@json_option
@click.option("--embedding", is_flag=True, help="Include the identity embedding in --json output.")
@click.option("--embedding-model", type=click.Choice(["sface", "arcface"]), default="sface", show_default=True,
              help="arcface is stronger but NON-COMMERCIAL (fetch it with `faceplay models fetch arcface`).")
@click.option("--fields", default="all", show_default=True,
              help=f"Comma-separated optional fields: {','.join(FIELDS)} (or {' / '.join(FIELD_GROUPS)} / none).")
@click.option("-o", "--output", type=click.Path(), help="Annotated image or video (or a folder when several inputs).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "int8"]), default="auto", show_default=True)
@click.option("--no-smoothing", is_flag=True, help="Video: raw per-frame landmarks (no One-Euro filter).")
@click.option("--max-faces", type=click.IntRange(min=1), default=10, show_default=True,
              help="Most faces per image or frame; the output says how many more were left out.")
def analyze(paths, as_json, embedding, embedding_model, fields, output, precision, no_smoothing, max_faces):
    """Detect and describe every face in images, videos or folders.

    With --json: one JSON object per line per image (per frame for videos).
    Without: a readable table. -o writes an annotated image or video.
    """
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media import is_video_path

    wanted = [] if fields == "none" else [f.strip() for f in fields.split(",") if f.strip()]
    if embedding and "all" not in wanted and "embedding" not in wanted:
        wanted.append("embedding")
    if not embedding and "all" in wanted:
        wanted = ["attributes"]
    inputs = list(iter_inputs(paths))
    out_dir = None
    if output:
        from faceplay.media.output import check_output

        out_dir = Path(output) if len(inputs) > 1 else None
        if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"-o {output} is a file; with several inputs -o names a folder for the annotated copies")
        for path in inputs:
            check_output(_dest(path, output, out_dir), *inputs)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    with FaceAnalyzer(embedding_model=embedding_model, precision=precision, max_faces=max_faces) as fa:
        for path in inputs:
            dest = _dest(path, output, out_dir) if output else None
            try:
                if is_video_path(path):
                    _analyze_video(fa, path, wanted, as_json, embedding, dest, smoothing=not no_smoothing)
                else:
                    _analyze_image(fa, path, wanted, as_json, embedding, dest)
            except FaceplayError as exc:
                if len(inputs) == 1:
                    raise
                failures += 1
                click.echo(f"faceplay: error: {exc}", err=True)
    if failures:
        raise InputError(f"{failures} of {len(inputs)} inputs could not be analysed (see above)")


def _dest(path: Path, output: str, out_dir: Path | None) -> Path:
    """Where the annotated copy of ``path`` goes: ``-o`` itself, or NAME_faces.jpg/.mp4 in the ``-o`` folder."""
    from faceplay.media import is_video_path

    if out_dir is None:
        return Path(output)
    return out_dir / (path.stem + "_faces" + (".mp4" if is_video_path(path) else ".jpg"))


def _analyze_image(fa, path: Path, wanted, as_json: bool, embedding: bool, dest: Path | None) -> None:
    from faceplay.face.annotate import annotate
    from faceplay.media import read_image, write_image

    rgb = read_image(path)
    faces = fa.analyze(rgb, fields=wanted)
    if not faces:
        log.warning("%s: no face found", path)
    if as_json:
        emit_json({"path": str(path), "width": rgb.shape[1], "height": rgb.shape[0],
                   "faces": [f.to_dict(embedding=embedding) for f in faces], "dropped_faces": getattr(faces, "dropped", 0)})
    else:
        dropped = getattr(faces, "dropped", 0)
        click.echo(f"{path}: {len(faces)} face(s)" + (f" ({dropped} more left out: raise --max-faces)" if dropped else ""))
        if faces:
            click.echo(_face_table(faces))
    if dest is not None:
        write_image(dest, annotate(rgb, faces))
        if not as_json:
            click.echo(f"annotated image written to {dest}")


def _analyze_video(fa, path: Path, wanted, as_json: bool, embedding: bool, dest: Path | None, *, smoothing: bool) -> None:
    """Track a video through the runner: JSON lines per frame, and/or an annotated copy with the audio."""
    from faceplay.effects.annotate import AnnotateEffect
    from faceplay.face.types import RunningMode
    from faceplay.runner import Runner

    tracks: set = set()

    def on_frame(res, _out) -> None:
        tracks.update(f.track_id for f in res.faces)
        if as_json:
            emit_json({"path": str(path), "frame": res.index, "timestamp": round(res.timestamp, 4),
                       "faces": [f.to_dict(embedding=embedding) for f in res.faces]})

    fx = AnnotateEffect(wanted, max_faces=fa.max_faces)
    with Runner(fx, RunningMode.VIDEO, analyzer=fa, smoothing=smoothing) as run:
        summary = run.video(path, dest, progress=progress_enabled(as_json), on_frame=on_frame, apply_effect=dest is not None)
    if not as_json:
        click.echo(f"{path}: {summary.frames} frames, faces in {summary.frames_with_faces}, {len(tracks)} track(s)")
        if dest is not None:
            click.echo(f"annotated video written to {dest}")


def _face_table(faces) -> str:
    rows = []
    for i, f in enumerate(faces):
        x, y, w, h = f.box
        top_bs = sorted(f.blendshapes.items(), key=lambda kv: -kv[1])[:2]
        rows.append([
            i, f"{x:.0f},{y:.0f} {w:.0f}x{h:.0f}", f"{f.score:.2f}",
            f"{f.pose.yaw:+.0f}/{f.pose.pitch:+.0f}/{f.pose.roll:+.0f}",
            "" if f.age is None else f"{f.age:.0f}",
            "" if f.gender is None else f"{f.gender} {f.gender_score:.2f}",
            f.expression or "", "" if f.skin_tone is None else f"monk {f.skin_tone.monk} / ITA {f.skin_tone.ita:.0f}",
            f.face_shape or "", "" if f.quality is None else f"{f.quality.score:.2f}",
            ", ".join(f"{k} {v:.2f}" for k, v in top_bs),
        ])
    return table(rows, ["#", "box", "score", "yaw/pitch/roll", "age", "gender", "expression", "skin", "shape", "quality", "top blendshapes"])


@click.command()
@click.argument("image_a", type=click.Path())
@click.argument("image_b", type=click.Path())
@json_option
@click.option("--embedding-model", type=click.Choice(["sface", "arcface"]), default="sface", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "int8"]), default="auto", show_default=True)
def verify(image_a, image_b, as_json, embedding_model, precision):
    """Are the (largest) faces in two photos the same person?"""
    from faceplay.face.analyzer import FaceAnalyzer

    with FaceAnalyzer(embedding_model=embedding_model, precision=precision) as fa:
        v = fa.verify(image_a, image_b)
    if as_json:
        emit_json(v.to_dict())
    else:
        verdict = "same person" if v.same else "different people"
        click.echo(f"{verdict}: similarity {v.similarity:.3f} (threshold {v.threshold}, {v.model})")

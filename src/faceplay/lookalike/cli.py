"""``faceplay gallery`` (add / stats / remove) and ``faceplay lookalike``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from faceplay.clikit import emit_json, json_option, progress_enabled, table

log = logging.getLogger(__name__)

db_option = click.option(
    "--db", required=True, metavar="DB",
    help="Gallery: a folder (embedded SQLite + FAISS), a FILE.db (milvus-lite) or http://host:19530 (Milvus server/cluster).")
collection_option = click.option("--collection", default="faceplay_gallery", show_default=True,
                                 help="Milvus collection name (ignored for a folder gallery).")


def _open(db: str, collection: str, **kw):
    from faceplay.lookalike import open_gallery

    return open_gallery(db, collection=collection, **kw)


@click.group()
def gallery() -> None:
    """Build and inspect a lookalike gallery of faces from photos and videos."""


@gallery.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
@collection_option
@click.option("--embedding-model", type=click.Choice(["sface", "arcface"]), default=None,
              help="Identity model for a new gallery [sface; arcface is non-commercial, opt-in]. "
                   "An existing gallery keeps its model.")
@click.option("--index", default="auto", show_default=True,
              help="Vector index: auto|flat|ivf_sq8|ivf_hnsw_sq8|hnsw (folder) or HNSW|IVF_SQ8|IVF_FLAT|FLAT (Milvus).")
@click.option("--video-fps", type=click.FloatRange(0.1, 30), default=2.0, show_default=True,
              help="Video frames sampled per second.")
@click.option("--dedupe", type=click.FloatRange(0.0, 1.0), default=0.80, show_default=True,
              help="Cosine similarity at which two faces of one source count as duplicates.")
@click.option("--attributes", type=click.Choice(["all", "lazy"]), default="all", show_default=True,
              help="lazy: skip age/gender/expression at ingestion (about 2x faster); lookalike computes them "
                   "for its few finalists from the stored thumbnails.")
@click.option("--workers", type=click.IntRange(1, 4096), default=None,
              help="Analysis processes [one per CPU core, at most 4] or, with --engine ray, Ray workers [one per CPU].")
@click.option("--video-segment", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds of video per work unit (units are analysed in parallel; tracks restart at each cut).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine (a process pool); ray: a Ray job (needs the ray extra).")
@click.option("--ray-address", default=None, metavar="HOST:PORT",
              help="Join this Ray cluster (--engine ray) [default: start Ray on this machine, loopback only].")
@json_option
def gallery_add(paths, db, collection, embedding_model, index, video_fps, dedupe, attributes, workers, video_segment,
                engine, ray_address, as_json) -> None:
    """Add photos and videos (folders are recursed) to the gallery DB.

    One entry per photo face and per video person-track (its best face); files
    already in the gallery (same content) are skipped, so an interrupted run
    can simply be repeated.
    """
    from faceplay.errors import ConfigError
    from faceplay.lookalike.faces import FaceSource
    from faceplay.lookalike.ingest import Ingester

    if ray_address and engine != "ray":
        raise ConfigError("--ray-address needs --engine ray")
    if engine == "local" and workers and workers > 16:
        raise ConfigError(f"--workers {workers} is more processes than one machine should run (at most 16); "
                          "use --engine ray to spread the work over a cluster")
    try:
        store = _open(db, collection, index=index)
        if embedding_model and store.embedding_model and embedding_model != store.embedding_model:
            raise ConfigError(f"the gallery {db} uses {store.embedding_model} embeddings; drop --embedding-model "
                              "or use a new --db")
    except Exception as exc:
        from faceplay.errors import StoreError

        if not (isinstance(exc, StoreError) and ("no gallery" in str(exc) or "is empty" in str(exc))):
            raise
        model = embedding_model or "sface"
        store = _open(db, collection, index=index, create=True, dim=FaceSource(model).dim, embedding_model=model)
    faces = FaceSource(store.embedding_model or "sface")
    try:
        with store.writer_lock():  # a concurrent run on the same gallery waits, then skips what this one added
            ing = Ingester(store, faces, video_fps=video_fps, dedupe_threshold=dedupe, attributes=attributes,
                           video_segment=video_segment)
            if engine == "ray":
                from faceplay.lookalike.ray_ingest import RayIngester

                report = RayIngester(store, ing, address=ray_address, workers=workers).add(
                    paths, progress=progress_enabled(as_json))
            else:
                report = ing.add(paths, progress=progress_enabled(as_json), workers=workers)
        stats = {"entries": store.count()}
    finally:
        faces.close()
        store.close()
    if as_json:
        emit_json({**report.to_dict(), "gallery_entries": stats["entries"]})
        return
    click.echo(f"added {report.faces_added} faces from {report.files_added} files "
               f"({report.files_skipped} already in the gallery, {len(report.failed)} failed) "
               f"in {report.seconds:.1f} s; the gallery holds {stats['entries']} faces")
    for p, msg in report.failed:
        click.echo(f"  failed: {p}: {msg}", err=True)


@gallery.command("stats")
@db_option
@collection_option
@click.option("--files", "list_files", is_flag=True, help="Also list every ingested file.")
@json_option
def gallery_stats(db, collection, list_files, as_json) -> None:
    """Counts, embedding model and backend of a gallery."""
    with _open(db, collection) as store:
        s = store.stats()
        files = store.files() if list_files else []
    if as_json:
        if list_files:
            s["file_list"] = [{"path": f.path, "kind": f.kind, "faces": f.n_faces, "sha256": f.content_hash} for f in files]
        emit_json(s)
        return
    click.echo(table([[k, v] for k, v in s.items()], ["key", "value"]))
    if list_files:
        click.echo()
        click.echo(table([[f.path, f.kind, f.n_faces] for f in files], ["file", "kind", "faces"]))


@gallery.command("remove")
@click.argument("source")
@db_option
@collection_option
@json_option
def gallery_remove(source, db, collection, as_json) -> None:
    """Remove every face of SOURCE: a file path as ingested, a folder, or a file's sha256."""
    with _open(db, collection) as store:
        n = store.remove_source(source)
        left = store.count()
    if as_json:
        emit_json({"removed": n, "gallery_entries": left})
    else:
        click.echo(f"removed {n} faces; the gallery holds {left}")


@gallery.command("check")
@click.option("--db", required=True, metavar="DB", help="A folder gallery (embedded SQLite + FAISS).")
@click.option("--repair", is_flag=True,
              help="Rebuild a damaged gallery from every file still readable whole; the damaged database is kept "
                   "beside it as gallery.sqlite.damaged-TIME and dropped files are listed for `gallery add`.")
@json_option
def gallery_check(db, repair, as_json) -> None:
    """Check a folder gallery for damage (exit 5 when damaged); --repair keeps every readable file."""
    from faceplay.errors import StoreError
    from faceplay.lookalike.stores.repair import check_gallery, repair_gallery

    report = repair_gallery(db) if repair else check_gallery(db)
    if as_json:
        emit_json(report)
    elif report.get("repaired"):
        click.echo(f"repaired {db}: kept {report['kept_files']} files ({report['kept_faces']} faces), dropped "
                   f"{len(report['dropped_files'])}; the damaged database is kept as {report['damaged_copy']}")
        for path in report["dropped_files"]:
            click.echo(f"  dropped: {path}")
        if report["dropped_files"]:
            click.echo(f"add them again with `faceplay gallery add PATHS... --db {db}`")
    elif report["ok"]:
        click.echo(f"{db}: no damage found ({report['files']} files, {report['faces']} faces)")
    if not report["ok"]:
        raise StoreError(f"the gallery {db} is damaged ({'; '.join(report['problems'][:3])}); "
                         f"run `faceplay gallery check --db {db} --repair` to keep every readable file")


@click.command("lookalike")
@click.argument("image", type=click.Path(path_type=Path))
@db_option
@collection_option
@click.option("--top", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Candidates (best by identity) analysed and re-ranked.")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Approximate neighbours retrieved before the re-rank.")
@click.option("--face", "face_index", type=int, default=None, help="Use the N-th face (0 = largest) instead of the largest.")
@click.option("--gender", type=click.Choice(["male", "female"]), default=None, help="Only gallery faces of this gender.")
@click.option("--age-min", type=float, default=None, help="Only gallery faces at least this old.")
@click.option("--age-max", type=float, default=None, help="Only gallery faces at most this old.")
@click.option("--weights", default=None, metavar="SPEC",
              help="Re-rank weights, e.g. identity=1,gender=0.1,age=0.1,expression=0.05,age_scale=10.")
@click.option("-o", "--output", "sheet", type=click.Path(path_type=Path), default=None,
              help="Write a contact sheet (query, top thumbnails, winner highlighted) to this .jpg/.png.")
@json_option
def lookalike(image, db, collection, top, k, face_index, gender, age_min, age_max, weights, sheet, as_json) -> None:
    """Find the gallery face that looks most like the person in IMAGE.

    Detects the face, embeds it, retrieves the K nearest gallery faces, then
    re-ranks the TOP most similar by identity plus agreement in age, gender
    and expression; prints the winner and the top list with the terms of
    each score.
    """
    from faceplay.lookalike.faces import FaceSource
    from faceplay.lookalike.rerank import RerankWeights
    from faceplay.lookalike.schema import Filter
    from faceplay.lookalike.search import LookalikeSearch
    from faceplay.media import read_image

    from faceplay.media.output import check_output

    check_output(sheet, image)
    w = RerankWeights.parse(weights)
    rgb = read_image(image)
    flt = Filter(gender=gender, age_min=age_min, age_max=age_max)
    with _open(db, collection) as store:
        faces = FaceSource(store.embedding_model or "sface")
        try:
            result = LookalikeSearch(store, faces, k=max(k, top), top=top, weights=w, flt=flt).search(
                rgb, face_index=face_index, name=str(image))
        finally:
            faces.close()
    if sheet is not None:
        from faceplay.lookalike.sheet import render_sheet

        render_sheet(rgb, result, sheet)
    if as_json:
        emit_json(result.to_dict())
        return
    q = result.query
    click.echo(f"query: {q.get('gender', '?')}, {q.get('age', '?')} y, {q.get('expression', '?')}")
    rows = []
    for i, m in enumerate(result.top, 1):
        src = m.entry.source + (f" @{m.entry.timestamp:.1f}s" if m.entry.timestamp is not None else "")
        rows.append([("*" if m is result.winner else "") + str(i), f"{m.similarity:.3f}", f"{m.score:.3f}",
                     f"{m.terms['gender']:.2f}", f"{m.terms['age']:.2f}", f"{m.terms['expression']:.2f}", src])
    click.echo(table(rows, ["rank", "similarity", "score", "gender", "age", "expr", "source"]))
    click.echo(f"winner: {result.winner.entry.source}" + (f" (sheet: {sheet})" if sheet else ""))

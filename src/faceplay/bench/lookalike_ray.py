"""Ray ingestion against the process pool, in the same run, on the same photos (``faceplay bench lookalike``).

Every setting ingests the same photos (lazy attributes) into a new folder
gallery. The process pool gets at least 100 files per worker (below that
:meth:`Ingester.add` analyses in-process). Ray is started once before the
timings (a cluster is normally up already), so each Ray figure includes what
the pool's figure includes: starting the workers and loading their models.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def ray_ingestion_benchmark(folder: Path, work: Path, n_photos: int) -> dict[str, Any]:
    """faces/s of the process pool (2 workers) and of Ray (1 and 2 workers) over the first ``n_photos`` of ``folder``."""
    from faceplay.lookalike.faces import FaceSource
    from faceplay.lookalike.ingest import media_files

    photos = [p for p in media_files([folder]) if p.suffix.lower() in (".jpg", ".jpeg", ".png")][:n_photos]
    faces = FaceSource("sface")
    try:
        return _compare(photos, work, faces)
    finally:
        faces.close()


def _compare(photos: list[Path], work: Path, faces) -> dict[str, Any]:
    from faceplay.lookalike.ingest import Ingester
    from faceplay.lookalike.stores import open_store

    src = work / "ray-bench-src"
    src.mkdir(parents=True, exist_ok=True)
    for p in photos:
        if not (src / p.name).exists():
            (src / p.name).symlink_to(p)
    out: dict[str, Any] = {"photos": len(photos)}
    try:
        from faceplay.lookalike import ray_ingest
    except ModuleNotFoundError:  # pragma: no cover - the ray extra is missing
        return {"error": "ray not installed; `pip install -e .[ray]`"}
    started = ray_ingest.connect(None)
    try:
        for name, engine, workers in (("process pool, 2 workers", "pool", 2), ("ray, 1 worker", "ray", 1),
                                      ("ray, 2 workers", "ray", 2)):
            db = work / f"ray-bench-{engine}-{workers}"
            store = open_store(db, create=True, dim=128, embedding_model="sface")
            ing = Ingester(store, faces, attributes="lazy")
            if engine == "pool":
                rep = ing.add([src], progress=False, workers=workers)
            else:
                rep = ray_ingest.RayIngester(store, ing, workers=workers).add([src], progress=False)
            store.close()
            shutil.rmtree(db, ignore_errors=True)
            out[name] = {"faces": rep.faces_added, "seconds": rep.seconds, "faces_per_s": rep.faces_added / rep.seconds,
                         "failed": len(rep.failed)}
            log.info("%s: %d faces in %.1f s", name, rep.faces_added, rep.seconds)
    finally:
        if started:
            import ray

            ray.shutdown()
    pool = out["process pool, 2 workers"]["seconds"]
    for name in ("ray, 1 worker", "ray, 2 workers"):
        out[name]["time_vs_pool"] = out[name]["seconds"] / pool
    return out


def print_ray(r: dict[str, Any]) -> None:
    """The Ray ingestion comparison as a table (click.echo)."""
    import click

    from faceplay.clikit import table

    if "error" in r:
        click.echo(f"ray ingestion: {r['error']}")
        return
    rows = [[k, v["faces"], f"{v['seconds']:.1f}", f"{v['faces_per_s']:.1f}",
             f"{v['time_vs_pool']:.2f}x" if "time_vs_pool" in v else ""] for k, v in r.items() if isinstance(v, dict)]
    click.echo(table(rows, [f"ingestion of {r['photos']} photos (lazy)", "faces", "s", "faces/s", "time vs pool"]))

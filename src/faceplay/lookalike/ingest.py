"""Gallery ingestion: photos and videos -> one entry per person (per photo face,
per video person-track) with embedding, attributes, source and thumbnail.

* Files are identified by the sha256 of their bytes; a file already in the
  gallery is skipped, so re-running an interrupted ``gallery add`` continues
  where it stopped (each file is committed atomically by the store).
* Videos are sampled at about ``video_fps`` frames per second and tracked;
  each track keeps its best face by :class:`~faceplay.face.types.Quality`
  (sharp, frontal, large), and only that face is embedded and described.
* Videos are cut into time ranges of ``video_segment`` seconds (:meth:`Ingester.plan`);
  each range is tracked on its own (:meth:`Ingester.analyse`) and the ranges of
  a file are merged by :meth:`Ingester.assemble`. Every engine runs these same
  three steps (this process, a process pool, Ray actors in
  :mod:`faceplay.lookalike.ray_ingest`), so they give the same entries.
* Near-duplicates within one source (cosine >= ``dedupe_threshold``: the same
  person in a second track, a repeated photo region) are dropped, keeping the
  better-quality face.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from faceplay.errors import FaceplayError, InputNotFoundError
from faceplay.face.types import Face
from faceplay.lookalike.faces import ATTRIBUTE_FIELDS, FaceSource, attributes_of, thumbnail
from faceplay.lookalike.schema import FileRecord, GalleryEntry, entry_id, file_hash
from faceplay.lookalike.stores.base import GalleryStore
from faceplay.media.frame import Frame

log = logging.getLogger(__name__)

DEFAULT_VIDEO_FPS = 2.0
DEFAULT_DEDUPE = 0.80
DEFAULT_MIN_FACE_PX = 32  #: faces narrower than this make poor identity embeddings
DEFAULT_VIDEO_SEGMENT = 60.0  #: seconds of video per work unit (a person seen across a cut is merged by dedupe)
TRACK_STRIDE = 100_000  #: track ids of the n-th time range start at n * TRACK_STRIDE (unique within a video)
#: attribute modes: ``all`` computes every attribute at ingestion; ``lazy`` only the cheap landmark-based
#: ones (skin tone, face shape, quality) and leaves age/gender/expression to the search, which analyses the
#: few re-ranked candidates from their thumbnails and stores the result (about 2x faster ingestion)
ATTRIBUTE_MODES = {"all": ATTRIBUTE_FIELDS, "lazy": ("skin_tone", "face_shape", "quality")}


@dataclass(frozen=True)
class WorkUnit:
    """One piece of analysis: a photo, or the time range ``[start, end)`` of a video (``end`` None: to the end)."""

    path: str
    content_hash: str
    kind: str  #: "image" | "video"
    index: int = 0  #: position of the range in its video
    start: float = 0.0
    end: float | None = None


@dataclass
class IngestReport:
    """What one ``gallery add`` run did."""

    files_seen: int = 0
    files_added: int = 0
    files_skipped: int = 0  #: already in the gallery (same content)
    faces_added: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  #: (path, message)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "files_seen": self.files_seen, "files_added": self.files_added, "files_skipped": self.files_skipped,
            "faces_added": self.faces_added, "failed": [{"path": p, "error": m} for p, m in self.failed],
            "seconds": round(self.seconds, 2),
            "faces_per_second": round(self.faces_added / self.seconds, 1) if self.seconds > 0 else None,
        }


def media_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Images and videos named by ``paths`` (folders recursed, sorted, de-duplicated)."""
    from faceplay.media import is_image_path, is_video_path

    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputNotFoundError(f"{p}: no such file or folder; check the path")
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and (is_image_path(q) or is_video_path(q)))
        else:
            out.append(p)
    seen: set[Path] = set()
    unique = []
    for q in out:
        r = q.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(r)
    return unique


class Ingester:
    """Adds photos and videos to a :class:`GalleryStore`."""

    def __init__(self, store: GalleryStore, faces: FaceSource | None = None, *, video_fps: float = DEFAULT_VIDEO_FPS,
                 dedupe_threshold: float = DEFAULT_DEDUPE, min_face_px: int = DEFAULT_MIN_FACE_PX,
                 attributes: str = "all", video_segment: float = DEFAULT_VIDEO_SEGMENT) -> None:
        if attributes not in ATTRIBUTE_MODES:
            from faceplay.errors import ConfigError

            raise ConfigError(f"attributes must be one of {', '.join(ATTRIBUTE_MODES)}, not {attributes!r}")
        self.attributes = attributes
        self.store = store
        self.faces = faces or FaceSource(store.embedding_model or "sface")
        self.video_fps = video_fps
        self.dedupe_threshold = dedupe_threshold
        self.min_face_px = min_face_px
        self.video_segment = video_segment

    @classmethod
    def worker(cls, model: str, video_fps: float, dedupe_threshold: float, min_face_px: int, attributes: str,
               video_segment: float = DEFAULT_VIDEO_SEGMENT) -> "Ingester":
        """A store-less ingester for an analysis worker (process pool or Ray actor): models load once, on first use."""
        import cv2

        cv2.setNumThreads(1)  # one core per worker: OpenCV's own thread pool would fight the other workers
        ing = cls.__new__(cls)
        ing.store, ing.faces = None, FaceSource(model)
        ing.video_fps, ing.dedupe_threshold, ing.min_face_px = video_fps, dedupe_threshold, min_face_px
        ing.attributes, ing.video_segment = attributes, video_segment
        return ing

    def settings(self) -> tuple:
        """The arguments of :meth:`worker` that reproduce this ingester's analysis."""
        return (self.faces.embedding_model, self.video_fps, self.dedupe_threshold, self.min_face_px, self.attributes,
                self.video_segment)

    # -- driver ------------------------------------------------------------
    def add(self, paths: Iterable[str | os.PathLike], *, progress: bool = True, workers: int | None = None) -> IngestReport:
        """Ingest every image/video under ``paths``; failures of single files are reported, not fatal.

        ``workers``: analysis processes (default: one per CPU core, at most 4;
        1 analyses in this process). Results are committed by this process
        only, one file per transaction, in input order.
        """
        from tqdm import tqdm

        files = media_files(paths)
        report = IngestReport(files_seen=len(files))
        t0 = time.perf_counter()
        bar = tqdm(total=len(files), desc="gallery add", unit="file", disable=not progress, dynamic_ncols=True, leave=False)
        todo: list[tuple[Path, str]] = []
        queued: set[str] = set()
        for path in files:
            h = file_hash(path)
            if h in queued or self.store.has_file(h):  # same content already in the gallery or in this run
                report.files_skipped += 1
                bar.update(1)
            else:
                queued.add(h)
                todo.append((path, h))
        workers = default_workers() if workers is None else max(1, workers)
        if workers > 1 and len(todo) >= 100 * workers:  # below that, starting the workers costs more than it saves
            results = self._parallel(todo, workers)
        else:
            results = ((p, h, _safe(self.ingest_file, p, h)) for p, h in todo)
        for path, h, res in results:
            bar.update(1)
            if isinstance(res, FaceplayError):
                log.warning("skipping %s: %s", path, res)
                report.failed.append((str(path), str(res)))
                continue
            commit(self.store, *res, report)
            bar.set_postfix(faces=report.faces_added)
        bar.close()
        self.store.flush()
        report.seconds = time.perf_counter() - t0
        return report

    def _parallel(self, todo: list[tuple[Path, str]], workers: int):
        """Analyse files in ``workers`` processes; yields (path, hash, result) in input order."""
        import multiprocessing as mp
        from collections import deque
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")  # MediaPipe and onnxruntime are not fork-safe
        args = self.settings()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=args) as pool:
            window: deque = deque()
            it = iter(todo)
            for path, h in it:
                window.append((path, h, pool.submit(_work, str(path), h)))
                if len(window) >= 3 * workers:
                    break
            while window:
                path, h, fut = window.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    window.append((nxt[0], nxt[1], pool.submit(_work, str(nxt[0]), nxt[1])))
                yield path, h, fut.result()

    def ingest_file(self, path: Path, content_hash: str | None = None) -> tuple[FileRecord, list[GalleryEntry]]:
        """Analyse one file into its gallery entries (nothing is written): plan, analyse every unit, assemble."""
        h = content_hash or file_hash(path)
        units = self.plan(path, h)
        return self.assemble(units, [self.analyse(u) for u in units])

    def plan(self, path: Path, content_hash: str) -> list[WorkUnit]:
        """The work units of one file: a photo is one unit, a video one unit per ``video_segment`` seconds."""
        from faceplay.media import VideoReader, is_video_path

        if not is_video_path(path):
            return [WorkUnit(str(path), content_hash, "image")]
        with VideoReader(path) as video:
            duration = video.duration
        # ranges start on a sampling bucket, so cutting a video never changes which frames are sampled
        seg = max(1, round(self.video_segment * self.video_fps)) / self.video_fps
        n = max(1, int(np.ceil((duration or 0.0) / seg - 1e-9)))
        return [WorkUnit(str(path), content_hash, "video", i, i * seg, None if i == n - 1 else (i + 1) * seg)
                for i in range(n)]

    def analyse(self, unit: WorkUnit) -> list[GalleryEntry]:
        """The candidate entries of one unit (ids assigned later by :meth:`assemble`)."""
        path = Path(unit.path)
        if unit.kind == "video":
            return self._video_entries(path, unit.content_hash, unit.start, unit.end, unit.index * TRACK_STRIDE)
        return self._photo_entries(path, unit.content_hash)

    def assemble(self, units: list[WorkUnit], parts: list[list[GalleryEntry]]) -> tuple[FileRecord, list[GalleryEntry]]:
        """Merge the analysed units of one file (in unit order): dedupe, then the deterministic entry ids.

        Ids key on the content hash and, for videos, the frame time (:func:`entry_id`), so
        re-analysing a file on any engine writes the same rows.
        """
        u0 = units[0]
        entries = dedupe([e for part in parts for e in part], self.dedupe_threshold)
        seen: dict[float | None, int] = {}
        for i, e in enumerate(entries):
            key = None if e.timestamp is None else round(float(e.timestamp), 3)
            e.id = entry_id(u0.content_hash, i if key is None else seen.get(key, 0), key)
            if key is not None:
                seen[key] = seen.get(key, 0) + 1
        log.debug("%s: %d entries", u0.path, len(entries))
        return FileRecord(u0.content_hash, u0.path, u0.kind, len(entries)), entries

    # -- photos --------------------------------------------------------------
    def _photo_entries(self, path: Path, h: str) -> list[GalleryEntry]:
        from faceplay.media import read_image

        rgb = read_image(path)
        out = []
        for face in self.faces.photo_faces(rgb, ("embedding", *ATTRIBUTE_MODES[self.attributes])):
            if min(face.box[2], face.box[3]) < self.min_face_px or face.embedding is None:
                continue
            out.append(self._entry(rgb, face, h, str(path), len(out), timestamp=None))
        return out

    # -- videos ------------------------------------------------------------
    def _sampled(self, path: Path, start: float = 0.0, end: float | None = None) -> Iterator[Frame]:
        """The first frame of every 1/video_fps second in ``[start, end)``."""
        from faceplay.media import VideoReader

        with VideoReader(path) as video:
            if start > 0:
                _seek(video, start)
            last = -1
            for frame in video:
                if frame.timestamp < start - 1e-6:
                    continue
                if end is not None and frame.timestamp >= end - 1e-6:
                    break
                bucket = int(frame.timestamp * self.video_fps + 1e-6)
                if bucket > last:
                    last = bucket
                    yield frame

    def _video_entries(self, path: Path, h: str, start: float = 0.0, end: float | None = None,
                       track_base: int = 0) -> list[GalleryEntry]:
        best: dict[int, tuple[float, Frame, Face]] = {}
        for frame, faces in self.faces.track(self._sampled(path, start, end)):
            for face in faces:
                if min(face.box[2], face.box[3]) < self.min_face_px:
                    continue
                self.faces.describe(frame, face, ("quality",))
                q = face.quality.score if face.quality is not None else 0.0
                if face.track_id not in best or q > best[face.track_id][0]:
                    best[face.track_id] = (q, frame, face)
        out = []
        for tid in sorted(best):
            _, frame, face = best[tid]
            self.faces.describe(frame, face, ("embedding", *ATTRIBUTE_MODES[self.attributes]))
            if face.embedding is None:
                continue
            face.track_id = track_base + int(tid)
            out.append(self._entry(frame.rgb, face, h, str(path), len(out), timestamp=frame.timestamp))
        log.info("%s [%.0f-%s s]: %d person-tracks", path.name, start, "end" if end is None else f"{end:.0f}", len(out))
        return out

    def _entry(self, rgb: np.ndarray, face: Face, h: str, source: str, index: int, timestamp: float | None) -> GalleryEntry:
        return GalleryEntry(
            id=entry_id(h, index), embedding=np.asarray(face.embedding, np.float32), file_hash=h, source=source,
            timestamp=timestamp, box=tuple(float(v) for v in face.box), track_id=face.track_id,
            attributes=attributes_of(face), thumbnail=thumbnail(rgb, face.box),
        )


def commit(store: GalleryStore, record: FileRecord, entries: list[GalleryEntry], report: IngestReport) -> bool:
    """Write one analysed file to the store unless another run committed the same content meanwhile."""
    if store.has_file(record.content_hash):
        report.files_skipped += 1
        return False
    store.add_file(record, entries)
    report.files_added += 1
    report.faces_added += len(entries)
    return True


def default_workers() -> int:
    """One analysis process per CPU core available to us, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _safe(fn, *args):
    try:
        return fn(*args)
    except FaceplayError as exc:
        if type(exc).__name__ == "StoreError":
            raise
        return exc


_WORKER: "Ingester | None" = None


def _init_worker(*settings) -> None:
    """Process-pool initializer: one store-less :class:`Ingester` per worker, its models closed at worker exit."""
    from multiprocessing.util import Finalize

    global _WORKER
    _WORKER = Ingester.worker(*settings)
    Finalize(None, _WORKER.faces.close, exitpriority=10)  # MediaPipe graphs must be closed explicitly


def _seek(video, start: float) -> None:
    """Seek a :class:`~faceplay.media.VideoReader` to the keyframe at or before ``start`` seconds."""
    stream = video._stream  # VideoReader has no public seek yet
    if stream.time_base:
        video._container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)


def _work(path: str, content_hash: str):
    assert _WORKER is not None
    return _safe(_WORKER.ingest_file, Path(path), content_hash)


def _quality(e: GalleryEntry) -> float:
    q = e.attributes.get("quality") or {}
    return float(q.get("score", 0.0))


def dedupe(entries: list[GalleryEntry], threshold: float = DEFAULT_DEDUPE) -> list[GalleryEntry]:
    """Drop near-duplicate faces of one source (cosine >= threshold), keeping the best quality.
    """
    if len(entries) < 2 or threshold >= 1.0:
        return entries
    order = sorted(range(len(entries)), key=lambda i: -_quality(entries[i]))
    kept: list[int] = []
    for i in order:
        v = entries[i].embedding
        if all(float(np.dot(v, entries[j].embedding)) < threshold for j in kept):
            kept.append(i)
    kept.sort()
    return [entries[i] for i in kept]

"""Public relighting API: photos, videos, contact sheets and debug layers.

>>> from faceplay.relight import relight_image, relight_video, preset
>>> res = relight_image("portrait.jpg", preset("rembrandt"), strength=0.8)
>>> relight_video("clip.mp4", "out.mp4", preset("backlit-fix"))
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from faceplay.relight.lights import PRESETS, Rig
from faceplay.relight.relighter import Layers, Relighter, RelightResult, RelightState

log = logging.getLogger(__name__)


def _rgb(image) -> np.ndarray:
    from faceplay.media.image import read_image

    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] == 4:
            return np.ascontiguousarray(image[..., :3])
        return image
    return read_image(image)


def relight_image(
    image,
    rig: Rig,
    strength: float = 0.8,
    *,
    faces: list | None = None,
    blend: str = "ratio",
    relighter: Relighter | None = None,
    analyzer=None,
    keep_layers: bool = False,
) -> RelightResult:
    """Relight one photo (path or RGB array). ``faces`` from a FaceAnalyzer are reused if given.

    No face: the image comes back unchanged and ``result.warnings`` says so.
    """
    rgb = _rgb(image)
    if faces is None:
        from faceplay.face.analyzer import FaceAnalyzer

        if analyzer is None:
            with FaceAnalyzer() as fa:
                faces = fa.analyze(rgb)
        else:
            faces = analyzer.analyze(rgb)
    own = relighter is None
    r = relighter or Relighter()
    try:
        return r.relight(rgb, faces, rig, strength, blend=blend, keep_layers=keep_layers)
    finally:
        if own:
            r.close()


def relight_video(
    src: str | Path,
    dst: str | Path,
    rig: Rig,
    strength: float = 0.8,
    *,
    blend: str = "ratio",
    progress: bool = False,
    relighter: Relighter | None = None,
    threaded: bool = True,
) -> dict:
    """Relight a video: same frame count and frame rate, the input's audio kept.

    Temporal stability: landmarks are One-Euro smoothed by the tracker, the
    identity is held per track, the SH estimate, the matte and the gain /
    highlight maps are exponentially smoothed, and a lost face fades out.
    With ``threaded`` decoding + face tracking run one thread ahead of the
    relighting + encoding (two pipeline stages on two cores; the frames and
    their order are the same either way).
    Returns a summary dict (frames, frames with faces, fps).
    """
    from faceplay.face.track import FaceTracker
    from faceplay.media.video import VideoReader, VideoWriter

    own = relighter is None
    r = relighter or Relighter(video=True)
    state = RelightState()
    n = n_faces = 0
    t0 = time.perf_counter()
    bar = None
    with VideoReader(src) as reader:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=reader.frame_count or None, unit="frame", desc="relight", leave=False)
        writer = VideoWriter(dst, reader.fps, reader.width, reader.height, audio_from=src if reader.has_audio else None)
        tracker = FaceTracker(max_faces=3)
        try:
            for frame, faces in tracked(reader, tracker, threaded=threaded):
                res = r.relight(frame.rgb, faces, rig, strength, blend=blend, state=state)
                writer.write(res.image)
                n += 1
                n_faces += bool(faces)
                if bar is not None:
                    bar.update(1)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            tracker.close()
            if bar is not None:
                bar.close()
            if own:
                r.close()
    dt = time.perf_counter() - t0
    return {"output": str(dst), "frames": n, "frames_with_faces": n_faces, "seconds": round(dt, 2),
            "fps": round(n / dt, 2) if dt > 0 else None, "rig": rig.name, "strength": strength}


def tracked(frames: Iterable, tracker, *, threaded: bool = True, depth: int = 4) -> Iterator[tuple]:
    """Yield ``(frame, faces)`` for each frame; with ``threaded`` the tracker runs in a worker thread ahead."""
    if not threaded:
        for frame in frames:
            yield frame, tracker.update(frame.rgb, frame.timestamp)
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for frame in frames:
                item = (frame, tracker.update(frame.rgb, frame.timestamp))
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            q.put(exc)

    t = threading.Thread(target=work, name="faceplay-track", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            t.join(timeout=0.05)


def gallery(image, strength: float = 0.8, *, faces=None, columns: int = 4, tile_width: int = 320,
            relighter: Relighter | None = None) -> np.ndarray:
    """A labelled contact sheet: the original and the photo under every preset."""
    rgb = _rgb(image)
    if faces is None:
        from faceplay.face.analyzer import FaceAnalyzer

        with FaceAnalyzer() as fa:
            faces = fa.analyze(rgb)
    own = relighter is None
    r = relighter or Relighter()
    tiles = [("original", rgb)]
    try:
        for name, rig in PRESETS.items():
            tiles.append((name, r.relight(rgb, faces, rig, strength).image))
    finally:
        if own:
            r.close()
    th = int(round(tile_width * rgb.shape[0] / rgb.shape[1]))
    cells = []
    for name, im in tiles:
        t = cv2.resize(im, (tile_width, th), interpolation=cv2.INTER_AREA)
        bar = np.full((22, tile_width, 3), 20, np.uint8)
        cv2.putText(bar, name, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1, cv2.LINE_AA)
        cells.append(np.concatenate([t, bar], 0))
    while len(cells) % columns:
        cells.append(np.zeros_like(cells[0]))
    rows = [np.concatenate(cells[i:i + columns], 1) for i in range(0, len(cells), columns)]
    return np.concatenate(rows, 0)


def _to8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def debug_images(rgb: np.ndarray, result: RelightResult) -> dict[str, np.ndarray]:
    """Inspectable layers of a relit image: shading maps, masks, normals and the mesh overlay."""
    L: Layers | None = result.layers
    if L is None:
        return {}
    H, W = rgb.shape[:2]

    def up(x):
        return cv2.resize(x, (W, H), interpolation=cv2.INTER_LINEAR)

    def srgb(x):
        return _to8(np.power(np.clip(x, 0, None) / max(float(np.percentile(x, 99.5)), 1e-3), 1 / 2.2).clip(0, 1))

    out = {
        "shading_new": up(srgb(L.new_shading)),
        "shading_original": up(srgb(L.old_shading)),
        "specular": up(_to8(np.power(np.clip(L.specular * 4, 0, 1), 1 / 2.2))),
        "gain": up(_to8(np.clip(L.gain / 2.0, 0, 1))),
        "normals": up(_to8(L.normals * 0.5 + 0.5)),
        "matte": up(_to8(L.matte)),
        "face_mask": up(_to8(L.face)),
        "skin_mask": up(_to8(L.skin)),
        "shadow": up(_to8(L.shadow)),
    }
    ov = rgb.copy()
    if L.triangles is not None:
        for v in L.meshes:
            pts = v[:, :2]
            tri = pts[L.triangles].astype(np.int32)
            cv2.polylines(ov, list(tri), True, (80, 255, 120), 1, cv2.LINE_AA)
    out["mesh_overlay"] = ov
    out["relit"] = result.image
    return out


def write_debug_layers(directory: str | Path, rgb: np.ndarray, result: RelightResult) -> list[Path]:
    """Write :func:`debug_images` as PNGs into ``directory``; returns the paths."""
    from faceplay.media.image import write_image

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, im in debug_images(rgb, result).items():
        paths.append(write_image(d / f"{name}.png", im))
    return paths

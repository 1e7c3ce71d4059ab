"""Public relighting API: photos, videos, contact sheets and debug layers.

>>> from faceplay.relight import relight_image, relight_video, preset
>>> res = relight_image("portrait.jpg", preset("rembrandt"), strength=0.8)
>>> relight_video("clip.mp4", "out.mp4", preset("backlit-fix"))
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from faceplay.relight.lights import PRESETS, Rig
from faceplay.relight.relighter import Layers, Relighter, RelightResult

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
    on_progress=None,
    should_stop=None,
    passes: str | Path | None = None,
    catchlights: bool = False,
    encode_preset: str = "ultrafast",
) -> dict:
    """Relight a video: same frame count and frame rate, the input's audio kept.

    Temporal stability: landmarks are One-Euro smoothed by the tracker, the
    identity is held per track, the SH estimate, the matte and the gain /
    highlight maps are exponentially smoothed, and a lost face fades out.
    Runs :class:`~faceplay.relight.effect.RelightEffect` through
    :meth:`faceplay.runner.Runner.video` (with ``threaded``, decoding + face
    tracking run one thread ahead of the relighting + encoding). x264
    ``ultrafast`` by default, as the avatar's video path: at the same CRF the
    picture is the same, the file larger (~1.7x), the encoder 2.5x cheaper per
    frame on the rendering thread. Returns the
    summary as a dict (frames, frames with faces, fps, per-stage and per-frame ms).
    ``passes``: a folder for the render passes (one numbered PNG sequence per pass,
    :mod:`faceplay.relight.passes`); ``catchlights``: keep the eyes' catchlights.
    """
    from faceplay.face.types import RunningMode
    from faceplay.relight.effect import RelightEffect
    from faceplay.runner import Runner

    with RelightEffect(rig, strength, blend=blend, video_relighter=relighter,
                       passes=None if passes is None else str(passes), catchlights=catchlights) as fx, \
            Runner(fx, RunningMode.VIDEO) as run:
        summary = run.video(src, dst, progress=progress, pipeline=threaded, on_progress=on_progress,
                            should_stop=should_stop, encode_preset=encode_preset)
    return {**summary.to_dict(), "rig": rig.name, "strength": strength}


def first_frame_with_face(path: str | Path, analyzer, max_frames: int = 90, every: int = 3):
    """The first frame of a video (checking every ``every``-th of the first ``max_frames``) with a face: (rgb, faces),
    or (None, []) when there is none (``--preset auto`` and ``--light-from`` choose their light on it)."""
    from faceplay.media.video import VideoReader

    with VideoReader(path) as reader:
        for i, frame in enumerate(reader):
            if i >= max_frames:
                break
            if i % every:
                continue
            faces = analyzer.analyze(frame.rgb)
            if faces:
                return frame.rgb, faces
    return None, []


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

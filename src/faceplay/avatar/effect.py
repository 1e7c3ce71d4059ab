"""The avatar effect: faces in, composited frames out (photos, videos, live streams).

>>> from faceplay.avatar import AvatarEffect
>>> fx = AvatarEffect("robot", mode="replace")           # doctest: +SKIP
>>> out = fx.process_image(rgb)                           # doctest: +SKIP
>>> fx.process_video("in.mp4", "out.mp4")                 # doctest: +SKIP
>>> with fx.stream() as live:                             # doctest: +SKIP
...     for rgb in webcam: show(live.push(rgb))

Modes: ``replace`` (the avatar's head over the person's head, same pose and
scale; body and background kept), ``side-by-side`` (input | avatar on a
backdrop), ``avatar-only`` (RGBA with transparent background, or flattened
on ``background`` e.g. green screen).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from faceplay.avatar.configure import ATTRIBUTE_FIELDS, config_from_face
from faceplay.avatar.driver import DriverSettings, FaceDriver
from faceplay.avatar.model import Avatar, AvatarConfig
from faceplay.errors import ConfigError
from faceplay.face.types import Face
from faceplay.render.camera import Camera
from faceplay.render.composite import alpha_over
from faceplay.render.lights import Lighting

log = logging.getLogger(__name__)

MODES = ("replace", "side-by-side", "avatar-only")


@dataclass
class StageTimes:
    """Accumulated milliseconds per stage (for benchmarks and -v logs)."""

    ms: dict[str, float] = field(default_factory=dict)
    frames: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0.0) + seconds * 1000.0

    def per_frame(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {k: round(v / n, 2) for k, v in self.ms.items()}


class AvatarEffect:
    """Render avatars over the faces of images and video frames.

    Args:
        avatar: built-in name (``faceplay avatar --list``) or path of a .glb;
            a list gives each face (by track order) its own avatar.
        mode: one of :data:`MODES`.
        config: user overrides (skin, hair, beard, colours, head shape); the
            rest is chosen from each face's attributes when ``auto_config``.
        mapping: ARKit name -> morph target name for user avatars.
        driver: smoothing / calibration / gains (:class:`DriverSettings`).
        scale: avatar size relative to the person's head.
        samples: MSAA samples of the renderer (0 = off, fastest).
        background: RGB for avatar-only / side-by-side backdrops, or None for
            transparency (avatar-only returns RGBA then).
        match_exposure: in replace mode, dim or brighten the avatar's lighting
            to the brightness around each face.
        video_quality: "fast" renders video/stream frames with at most
            ``fast_pixels`` rasterised pixels per frame (upscaled) and a key
            light + environment; "high" renders them like photos.
    """

    def __init__(self, avatar: str | Path | Sequence[str | Path] = "toon", *, mode: str = "replace",
                 config: AvatarConfig | None = None, auto_config: bool = True, mapping: dict[str, str] | None = None,
                 driver: DriverSettings | None = None, scale: float = 1.0, samples: int = 4,
                 background: tuple[int, int, int] | None = (0, 177, 64), lighting: Lighting | None = None,
                 max_faces: int = 5, video_quality: str = "fast", fast_pixels: int = 48_000,
                 match_exposure: bool = True) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.sources = [avatar] if isinstance(avatar, (str, Path)) else list(avatar)
        if not self.sources:
            raise ConfigError("no avatar given")
        self.mode = mode
        self.user_config = config or AvatarConfig()
        self.auto_config = auto_config
        self.mapping = mapping
        self.driver_settings = driver or DriverSettings()
        self.scale = float(scale)
        self.samples = samples
        self.background = background
        if video_quality not in ("fast", "high"):
            raise ConfigError(f"unknown video quality {video_quality!r}; use fast or high")
        self.lighting = lighting or Lighting.studio()
        self.video_lighting = lighting or (Lighting.fast() if video_quality == "fast" else self.lighting)
        self.video_pixels = fast_pixels if video_quality == "fast" else None
        self._live = False
        self.match_exposure = match_exposure
        self.max_faces = max_faces
        self.times = StageTimes()
        self._renderer = None
        self._avatars: dict[object, Avatar] = {}
        self._drivers: dict[object, FaceDriver] = {}
        self._analyzer = None
        # Validate sources and options now (clear errors before any video work).
        for s in self.sources:
            Avatar(s, None, mapping=mapping, config=self.user_config)

    # -- resources -----------------------------------------------------------------
    @property
    def renderer(self):
        if self._renderer is None:
            from faceplay.render.renderer import Renderer

            self._renderer = Renderer(samples=self.samples)
        return self._renderer

    @property
    def analyzer(self):
        if self._analyzer is None:
            from faceplay.face.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer(max_faces=self.max_faces)
        return self._analyzer

    def needs_attributes(self) -> bool:
        """Whether automatic configuration wants face attributes for these avatars."""
        if not self.auto_config:
            return False
        return any(Avatar(s, None, mapping=self.mapping).options for s in self.sources)

    def _key(self, face: Face, i: int):
        return face.track_id if face.track_id is not None else ("photo", i)

    def avatar_for(self, face: Face, i: int = 0) -> Avatar:
        """The avatar instance of this face (created and configured on first sight)."""
        key = self._key(face, i)
        av = self._avatars.get(key)
        if av is None:
            n = len(self._avatars)
            src = self.sources[n % len(self.sources)]
            av = Avatar(src, self.renderer, mapping=self.mapping)
            cfg = config_from_face(face if self.auto_config else None, av.options, self.user_config)
            av.apply_config(cfg)
            log.info("face %s -> avatar %s %s", key, av.name, cfg.to_dict())
            self._avatars[key] = av
            self._drivers[key] = FaceDriver(self.driver_settings)
        return av

    def driver_for(self, face: Face, i: int = 0) -> FaceDriver:
        self.avatar_for(face, i)
        return self._drivers[self._key(face, i)]

    # -- rendering -----------------------------------------------------------------
    def _model(self, pose: np.ndarray) -> np.ndarray:
        m = np.asarray(pose, np.float64).copy()
        if self.scale != 1.0:
            m[:3, :3] *= self.scale
        return m.astype(np.float32)

    def render_layer(self, width: int, height: int, faces: Sequence[Face], *, temporal: bool = False,
                     weights: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
        """RGBA (premultiplied) layer of all faces' avatars at their poses, and the drawn bounding box.

        Only the region around the heads is rasterised; the rest stays transparent.
        """
        layer = np.zeros((height, width, 4), np.uint8)
        color, box = self.render_region(width, height, faces, temporal=temporal, weights=weights)
        if box is not None:
            x, y, w, h = box
            layer[y:y + h, x:x + w] = color
        return layer, box

    def render_region(self, width: int, height: int, faces: Sequence[Face], *, temporal: bool = False,
                      weights: Sequence[np.ndarray] | None = None,
                      exposure: float = 1.0) -> tuple[np.ndarray | None, tuple[int, int, int, int] | None]:
        """Like :meth:`render_layer` but returns only the drawn rectangle's RGBA and its (x, y, w, h).

        ``exposure`` scales the lighting (replace mode matches it to the scene).
        """
        cam = Camera.for_image(width, height)
        if not faces:
            return None, None
        t0 = time.perf_counter()
        items = []
        rects = []
        for i, f in enumerate(faces):
            av = self.avatar_for(f, i)
            drv = self._drivers[self._key(f, i)]
            w = weights[i] if weights is not None else drv.weights(f, temporal=temporal)
            model = self._model(drv.pose(f, temporal=temporal))
            av.set_weights(w)
            items += av.draw_items(model, self.renderer)
            lo, hi = av.bounds()
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            px = cam.project(corners, model.astype(np.float64))
            if np.all(px[:, 2] > 0):
                rects.append((px[:, 0].min(), px[:, 1].min(), px[:, 0].max(), px[:, 1].max()))
        self.times.add("drive", time.perf_counter() - t0)
        if not rects:
            return None, None
        x0 = int(max(0, np.floor(min(r[0] for r in rects)) - 2))
        y0 = int(max(0, np.floor(min(r[1] for r in rects)) - 2))
        x1 = int(min(width, np.ceil(max(r[2] for r in rects)) + 2))
        y1 = int(min(height, np.ceil(max(r[3] for r in rects)) + 2))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None, None
        t0 = time.perf_counter()
        rw, rh = x1 - x0, y1 - y0
        crop = cam.crop(x0, y0, rw, rh)
        budget = self.video_pixels if self._live else None
        light = self.video_lighting if self._live else self.lighting
        if exposure != 1.0:
            from dataclasses import replace

            light = replace(light, exposure=light.exposure * exposure)
        if budget and rw * rh > budget:
            k = (budget / (rw * rh)) ** 0.5
            small = Camera(crop.view, crop.proj, max(8, int(np.ceil(rw * k))), max(8, int(np.ceil(rh * k))))
            color = self.renderer.render(items, small, light).color
            import cv2

            color = cv2.resize(color, (rw, rh), interpolation=cv2.INTER_LINEAR)
        else:
            color = self.renderer.render(items, crop, light).color
        self.times.add("render", time.perf_counter() - t0)
        return color, (x0, y0, rw, rh)

    def composite(self, rgb: np.ndarray, faces: Sequence[Face], *, temporal: bool = False) -> np.ndarray:
        """The output frame for ``rgb`` with avatars on ``faces`` (per :attr:`mode`).

        replace / side-by-side return RGB uint8; avatar-only returns RGBA when
        ``background`` is None, else RGB on that colour.
        """
        h, w = rgb.shape[:2]
        if self.mode == "replace":
            color, box = self.render_region(w, h, faces, temporal=temporal, exposure=self._scene_exposure(rgb, faces, temporal))
            t0 = time.perf_counter()
            out = rgb
            if box is not None:
                out = rgb.copy()
                alpha_over(out, color, box[0], box[1], out=out)
            self.times.add("composite", time.perf_counter() - t0)
            return out
        layer, box = self.render_layer(w, h, faces, temporal=temporal)
        t0 = time.perf_counter()
        if self.mode == "avatar-only":
            if self.background is None:
                from faceplay.render.composite import unpremultiply

                out = unpremultiply(layer)
            else:
                bg = np.empty((h, w, 3), np.uint8)
                bg[...] = np.asarray(self.background, np.uint8)
                out = alpha_over(bg, layer)
        else:  # side-by-side
            bg = backdrop(h, w) if self.background is None or tuple(self.background) == (0, 177, 64) else \
                np.full((h, w, 3), np.asarray(self.background, np.uint8))
            out = np.concatenate([rgb, alpha_over(bg, layer)], axis=1)
        self.times.add("composite", time.perf_counter() - t0)
        return out

    def _scene_exposure(self, rgb: np.ndarray, faces: Sequence[Face], temporal: bool) -> float:
        """Exposure that fits the avatar into the scene: darker around dim faces, a little brighter in bright ones."""
        if not self.match_exposure or not faces:
            return 1.0
        lum = []
        H, W = rgb.shape[:2]
        for f in faces:
            x, y, w, h = (int(v) for v in f.box)
            x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
            patch = rgb[y0:min(H, y + h + h // 2):3, x0:min(W, x + w + w // 2):3]
            if patch.size:
                lum.append(float(patch.mean()) / 255.0)
        if not lum:
            return 1.0
        e = float(np.clip((np.mean(lum) / 0.45) ** 0.6, 0.55, 1.2))
        if temporal:
            prev = getattr(self, "_exposure", None)
            e = e if prev is None else 0.85 * prev + 0.15 * e
            self._exposure = e
        return e

    # -- photos ----------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces of a photo, with the attributes automatic configuration needs.

        When an attribute model cannot run, the avatar keeps its defaults (a
        warning says why) instead of failing the whole effect.
        """
        faces = self.analyzer.analyze(rgb)
        if faces and self.needs_attributes():
            self.add_attributes(rgb, faces)
        return faces

    def add_attributes(self, rgb: np.ndarray, faces: Sequence[Face]) -> None:
        """Compute gender, age, skin tone and face shape for ``faces`` (best effort)."""
        from faceplay.errors import ModelError
        from faceplay.media.frame import Frame

        try:
            self.analyzer.complete(Frame(np.ascontiguousarray(rgb)), list(faces), ATTRIBUTE_FIELDS)
        except ModelError as exc:
            if not getattr(self, "_warned_attr", False):
                log.warning("face attributes unavailable (%s); avatars use their default options", exc)
                self._warned_attr = True

    def process_image(self, rgb: np.ndarray, faces: Sequence[Face] | None = None) -> np.ndarray:
        """Apply the effect to one photo (RGB uint8). Faces are detected when not given.

        A photo without a face comes back unchanged (with a warning), except in
        avatar-only mode where the result is empty.
        """
        if faces is None:
            faces = self.detect(rgb)
        faces = list(faces)[: self.max_faces]
        if not faces:
            log.warning("no face found; the image is returned unchanged")
            if self.mode == "replace":
                return rgb
        self._avatars.clear()
        self._drivers.clear()
        self._live = False
        return self.composite(rgb, faces, temporal=False)

    # -- video -----------------------------------------------------------------------
    def process_video(self, src: str | Path, dst: str | Path, *, progress: bool = False, pipeline: bool = True,
                      encode_preset: str = "superfast") -> dict:
        """Apply the effect to a video file; the output keeps the frame count, rate and audio.

        With ``pipeline`` decoding + tracking run in a second thread, overlapping
        rendering + encoding of the previous frames. Returns a summary: frames,
        frames_with_faces, fps (processing speed), per-stage milliseconds.
        """
        from faceplay.media.video import VideoReader, VideoWriter

        dst = Path(dst)
        self.times = StageTimes()
        alpha = self.mode == "avatar-only" and self.background is None
        if alpha and dst.suffix.lower() != ".webm":
            raise ConfigError(f"{dst.name}: a transparent avatar-only video needs a .webm output (or give a --background colour)")
        t_start = time.perf_counter()
        with VideoReader(src) as reader:
            out_w = reader.width * (2 if self.mode == "side-by-side" else 1)
            writer = VideoWriter(dst, reader.fps, out_w, reader.height, audio_from=src if reader.has_audio else None,
                                 alpha=alpha, preset=encode_preset)
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=reader.frame_count or None, unit="frame", desc="avatar", leave=False)
            n_faces = 0
            try:
                with self.stream() as live:
                    for frame, faces in self._analysed(reader, live, pipeline):
                        n_faces += bool(faces)
                        out = live.render(frame.rgb, faces)
                        t0 = time.perf_counter()
                        writer.write(out)
                        self.times.add("encode", time.perf_counter() - t0)
                        self.times.frames += 1
                        if bar is not None:
                            bar.update(1)
                t0 = time.perf_counter()
                writer.close()
                self.times.add("encode", time.perf_counter() - t0)
            except BaseException:
                writer.abort()
                raise
            finally:
                if bar is not None:
                    bar.close()
        dt = time.perf_counter() - t_start
        return {"output": str(dst), "frames": self.times.frames, "frames_with_faces": n_faces,
                "fps": round(self.times.frames / max(dt, 1e-9), 2), "ms_per_stage": self.times.per_frame()}

    def _analysed(self, reader, live: "AvatarStream", pipeline: bool):
        """(frame, faces) in order; decoded and tracked in a worker thread when ``pipeline``."""
        if not pipeline:
            it = iter(reader)
            while True:
                t0 = time.perf_counter()
                frame = next(it, None)
                self.times.add("decode", time.perf_counter() - t0)
                if frame is None:
                    return
                yield frame, live.analyse(frame.rgb, frame.timestamp)
            return
        import queue
        import threading

        q: queue.Queue = queue.Queue(maxsize=3)
        stop = threading.Event()
        END = object()

        def work() -> None:
            try:
                it = iter(reader)
                while not stop.is_set():
                    t0 = time.perf_counter()
                    frame = next(it, None)
                    self.times.add("decode", time.perf_counter() - t0)
                    if frame is None:
                        break
                    item = (frame, live.analyse(frame.rgb, frame.timestamp))
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                q.put(END)
            except BaseException as exc:  # handed to the consumer
                q.put(exc)

        t = threading.Thread(target=work, name="avatar-track", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            t.join(timeout=10)

    def stream(self) -> "AvatarStream":
        """A live stream: push frames one by one, get composited frames back."""
        return AvatarStream(self)

    def close(self) -> None:
        """Release the analyser and every GPU resource (meshes, renderer); call it on the rendering thread."""
        for av in self._avatars.values():
            av.release()
        self._avatars.clear()
        self._drivers.clear()
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None

    def __enter__(self) -> "AvatarEffect":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AvatarStream:
    """Streaming API: one output frame per input frame, in order (see :meth:`AvatarEffect.stream`)."""

    def __init__(self, effect: AvatarEffect) -> None:
        self.fx = effect
        self.tracker = effect.analyzer.tracker()
        self.fields = ATTRIBUTE_FIELDS if effect.needs_attributes() else ()
        self.last_faces: list[Face] = []
        self._t = 0.0
        self._seen: set = set()
        effect._avatars.clear()
        effect._drivers.clear()
        effect._live = True
        effect._exposure = None

    def push(self, rgb: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Process one RGB frame (``timestamp`` in seconds; defaults to 30 fps spacing)."""
        faces = self.analyse(rgb, timestamp)
        return self.render(rgb, faces)

    def render(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """The composited frame for faces found by :meth:`analyse` (call in frame order)."""
        return self.fx.composite(rgb, faces, temporal=True)

    def analyse(self, rgb: np.ndarray, timestamp: float | None = None) -> list[Face]:
        """Track the faces of the next frame (and their attributes on first sight).

        Safe to run in another thread than :meth:`render` (the two stages of
        :meth:`AvatarEffect.process_video` overlap on two cores).
        """
        if timestamp is None:
            timestamp = self._t
            self._t += 1 / 30.0
        t0 = time.perf_counter()
        faces = self.tracker.update(rgb, timestamp)[: self.fx.max_faces]
        self.fx.times.add("track", time.perf_counter() - t0)
        new = [f for f in faces if f.track_id not in self._seen]
        if new and self.fields:
            t0 = time.perf_counter()
            self.fx.add_attributes(rgb, new)
            self.fx.times.add("attributes", time.perf_counter() - t0)
        self._seen.update(f.track_id for f in faces)
        self.last_faces = faces
        return faces

    def close(self) -> None:
        self.tracker.close()
        self.fx._live = False

    def __enter__(self) -> "AvatarStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def backdrop(h: int, w: int) -> np.ndarray:
    """A soft studio-grey vertical gradient (side-by-side background)."""
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([226, 230, 238], np.float32), np.array([160, 168, 182], np.float32)
    g = top * (1 - y) + bottom * y
    return np.broadcast_to(g, (h, w, 3)).astype(np.uint8)


def process_frames(effect: AvatarEffect, frames: Iterable[np.ndarray], fps: float = 30.0) -> Iterable[np.ndarray]:
    """Generator form of the streaming API over an iterable of RGB frames."""
    with effect.stream() as live:
        for i, rgb in enumerate(frames):
            yield live.push(rgb, i / fps)

"""The avatar effect: faces in, composited frames out (photos, videos, live streams).

>>> from faceplay.avatar import AvatarEffect
>>> fx = AvatarEffect("robot", mode="replace")           # doctest: +SKIP
>>> out = fx.process_image(rgb)                           # doctest: +SKIP
>>> fx.process_video("in.mp4", "out.mp4")                 # doctest: +SKIP
>>> with fx.stream() as live:                             # doctest: +SKIP
...     for rgb in webcam: show(live.push(rgb))

:class:`AvatarEffect` is an :class:`~faceplay.effects.base.Effect`: the three
calls above are shorthands for :class:`~faceplay.runner.Runner` in IMAGE,
VIDEO and LIVE mode. Each stream keeps its avatars, face drivers and exposure
in an :class:`AvatarState`; VIDEO and LIVE render within the live pixel budget
and lighting (``video_quality="fast"``), IMAGE takes the high-quality path.

Modes: ``replace`` (the avatar's head over the person's head, same pose and
scale; the person's own head and hair first replaced with background by
:mod:`faceplay.avatar.hide_head` unless ``keep_head``; neck, body and background
kept), ``side-by-side`` (input | avatar on a
backdrop), ``avatar-only`` (RGBA with transparent background, or flattened
on ``background`` e.g. green screen).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from faceplay.avatar.configure import ATTRIBUTE_FIELDS, config_from_face
from faceplay.avatar.driver import DriverSettings, FaceDriver
from faceplay.avatar.model import Avatar, AvatarConfig
from faceplay.avatar.layer import AvatarRendering
from faceplay.avatar.scene import scene_exposure
from faceplay.effects.base import Effect, EffectState
from faceplay.errors import ConfigError
from faceplay.face.types import Face, RunningMode
from faceplay.media.frame import Frame
from faceplay.render.composite import alpha_over, backdrop
from faceplay.render.lights import Lighting
from faceplay.runner import Runner, StageClock, VideoSummary

log = logging.getLogger(__name__)

MODES = ("replace", "side-by-side", "avatar-only")

#: Pixels rasterised per video / live frame (the avatar region is drawn at most this large and
#: scaled up). 24k: on 2 cores (Zen 4) the video path spends ~9 % less CPU than at 32k for a
#: look that barely changes at 640x480 (`faceplay avatar --live-pixels` sets it).
LIVE_PIXELS = 24_000


@dataclass(eq=False)  # a stream state is itself, not its contents
class AvatarState(EffectState):
    """One stream's avatars and face drivers (by track id, or by face index in a photo) and exposure."""

    avatars: dict = field(default_factory=dict)
    drivers: dict = field(default_factory=dict)
    exposure: float | None = None
    heads: object = None  #: the stream's HeadRemover (clean plate), replace mode without keep_head


class AvatarEffect(AvatarRendering, Effect):
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
        samples: MSAA samples of photos (0 = off, fastest); with ``video_quality="fast"``
            video and live frames render without MSAA and smooth the silhouette instead.
        background: RGB for avatar-only / side-by-side backdrops, or None for
            transparency (avatar-only returns RGBA then).
        match_exposure: in replace mode, dim or brighten the avatar's lighting
            to the brightness around each face.
        keep_head: in replace mode, draw the avatar over the person's head as it is
            instead of first replacing head and hair with background (:mod:`.hide_head`).
        video_quality: "fast" renders video/stream frames with at most
            ``fast_pixels`` rasterised pixels per frame (upscaled) and a key
            light + environment; "high" renders them like photos.
    """

    def __init__(self, avatar: str | Path | Sequence[str | Path] = "toon", *, mode: str = "replace",
                 config: AvatarConfig | None = None, auto_config: bool = True, mapping: dict[str, str] | None = None,
                 driver: DriverSettings | None = None, scale: float = 1.0, samples: int = 4,
                 background: tuple[int, int, int] | None = (0, 177, 64), lighting: Lighting | None = None,
                 max_faces: int = 5, video_quality: str = "fast", fast_pixels: int = LIVE_PIXELS,
                 match_exposure: bool = True, keep_head: bool = False) -> None:
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
        self.match_exposure = match_exposure
        self.keep_head = keep_head
        self._segmenter = None
        self._lock = threading.Lock()
        self.max_faces = max_faces
        self.times = StageClock()
        self._renderer = None
        self._analyzer = None
        self._states: list[AvatarState] = []  # every stream's state, released by close()
        self.last_state: AvatarState | None = None
        # Validate sources and options now (clear errors before any video work); whether any avatar
        # has options for automatic configuration is known from then on (not re-read per frame).
        self._has_options = any([bool(Avatar(s, None, mapping=mapping, config=self.user_config).options)
                                 for s in self.sources])

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

    name = "avatar"
    fields_per_track = True

    @property
    def fields(self) -> tuple[str, ...]:  # type: ignore[override]
        """The face attributes automatic configuration reads (none without auto_config)."""
        return tuple(ATTRIBUTE_FIELDS) if self.needs_attributes() else ()

    def needs_attributes(self) -> bool:
        """Whether automatic configuration wants face attributes for these avatars."""
        return bool(self.auto_config and self._has_options)

    @property
    def avatars(self) -> list[Avatar]:
        """The avatars of the most recent stream or photo, in the order faces were first seen."""
        return list(self.last_state.avatars.values()) if self.last_state else []

    # -- the Effect contract -----------------------------------------------------------
    def new_state(self, mode: RunningMode | str) -> AvatarState:
        """Per-stream avatars, drivers and exposure for ``mode``.

        Photos are independent: a new IMAGE state releases the earlier ones (only the
        latest photo's avatars are kept, for :attr:`avatars`).
        """
        st = AvatarState(self.check_mode(mode))
        if st.mode is RunningMode.IMAGE:
            for old in [x for x in self._states if x.mode is RunningMode.IMAGE]:
                self.release_state(old)
        self._states.append(st)
        self.last_state = st
        return st

    def prepare(self, frame: Frame, faces: Sequence[Face], state: EffectState) -> None:
        """Analysis thread, one frame ahead: the person matte that head removal needs (replace mode, streams)."""
        if self.mode == "replace" and faces and not self.keep_head and isinstance(state, AvatarState) and state.temporal:
            self._head_remover(state).prepare(frame, faces)

    def apply(self, frame: Frame, faces: Sequence[Face], state: EffectState) -> np.ndarray:
        """The output frame (per :attr:`mode`) for ``frame`` with avatars on ``faces``."""
        if not isinstance(state, AvatarState):
            raise ConfigError("AvatarEffect.apply needs a state from AvatarEffect.new_state()")
        return self.composite(frame.rgb, faces, state, prepared=frame.get("person_matte"))

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        return (2 * width if self.mode == "side-by-side" else width), height

    def output_alpha(self) -> bool:
        return self.mode == "avatar-only" and self.background is None

    def _key(self, face: Face, i: int):
        return face.track_id if face.track_id is not None else ("photo", i)

    def avatar_for(self, face: Face, i: int, state: AvatarState) -> Avatar:
        """The avatar instance of this face in ``state`` (created and configured on first sight)."""
        key = self._key(face, i)
        av = state.avatars.get(key)
        if av is None:
            n = len(state.avatars)
            src = self.sources[n % len(self.sources)]
            av = Avatar(src, self.renderer, mapping=self.mapping)
            cfg = config_from_face(face if self.auto_config else None, av.options, self.user_config)
            av.apply_config(cfg)
            log.info("face %s -> avatar %s %s", key, av.name, cfg.to_dict())
            state.avatars[key] = av
            state.drivers[key] = FaceDriver(self.driver_settings)
        return av

    def driver_for(self, face: Face, i: int, state: AvatarState) -> FaceDriver:
        """The face driver (calibration, gains, smoothing) of this face in ``state``."""
        self.avatar_for(face, i, state)
        return state.drivers[self._key(face, i)]

    def composite(self, rgb: np.ndarray, faces: Sequence[Face], state: AvatarState, *, prepared=None) -> np.ndarray:
        """The output frame for ``rgb`` with avatars on ``faces`` (per :attr:`mode`).

        replace / side-by-side return RGB uint8; avatar-only returns RGBA when
        ``background`` is None, else RGB on that colour. ``prepared``: the person
        matte :meth:`prepare` made for this frame, if any.
        """
        h, w = rgb.shape[:2]
        if self.mode == "replace":
            hidden = [rgb]

            def hide_head():  # CPU work done while the rasteriser draws the avatar
                t = time.perf_counter()
                hidden[0] = self._head_remover(state).apply(rgb, faces, prepared)
                self.times.add("hide_head", time.perf_counter() - t)

            color, box = self.render_region(w, h, faces, state, exposure=self._scene_exposure(rgb, faces, state),
                                            meanwhile=hide_head if faces and not self.keep_head else None)
            t0 = time.perf_counter()
            out = hidden[0]
            if box is not None:
                out = rgb.copy() if out is rgb else out
                alpha_over(out, color, box[0], box[1], out=out)
            self.times.add("composite", time.perf_counter() - t0)
            return out
        layer, box = self.render_layer(w, h, faces, state)
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

    def _head_remover(self, state: AvatarState):
        with self._lock:  # prepare (analysis thread) and apply (render thread) may both be first
            if state.heads is None:
                from faceplay.avatar.hide_head import HeadRemover
                from faceplay.matting.segment import PersonSegmenter

                if self._segmenter is None:
                    self._segmenter = PersonSegmenter("selfie")
                state.heads = HeadRemover(self._segmenter, temporal=state.temporal)
            return state.heads

    def _scene_exposure(self, rgb: np.ndarray, faces: Sequence[Face], state: AvatarState) -> float:
        """Exposure that fits the avatar into the scene (smoothed over time in a stream)."""
        if not self.match_exposure or not faces:
            return 1.0
        e = scene_exposure(rgb, faces, state.exposure if state.temporal else None)
        if state.temporal:
            state.exposure = e
        return e

    # -- shorthands over the runner ---------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces of a photo, with the attributes automatic configuration needs (best effort)."""
        with Runner(self, RunningMode.IMAGE, analyzer=self.analyzer, max_faces=self.max_faces) as run:
            return run.analyse(Frame(np.ascontiguousarray(rgb))).faces

    def process_image(self, rgb: np.ndarray, faces: Sequence[Face] | None = None) -> np.ndarray:
        """Apply the effect to one photo (RGB uint8). Faces are detected when not given.

        A photo without a face comes back unchanged (with a warning), except in
        avatar-only mode where the result is empty.
        """
        with Runner(self, RunningMode.IMAGE, analyzer=self.analyzer, max_faces=self.max_faces) as run:
            if faces is None:
                faces = run.analyse(Frame(np.ascontiguousarray(rgb))).faces
            if not faces:
                log.warning("no face found; the image is returned unchanged")
                if self.mode == "replace":
                    return rgb
            return run.image(rgb, faces)

    def process_video(self, src: str | Path, dst: str | Path, *, progress: bool = False, pipeline: bool = True,
                      encode_preset: str = "ultrafast", on_progress=None, should_stop=None) -> dict:
        """Apply the effect to a video file; the output keeps the frame count, rate and audio.

        x264 ``ultrafast`` by default: 2.5x faster than ``superfast`` at 640x480 here (4 vs 10 ms
        per frame, on the rendering thread) for ~1.7x the file size.

        Runs :meth:`faceplay.runner.Runner.video` (decoding + tracking one thread
        ahead of rendering + encoding). Returns the :class:`VideoSummary` as a dict.
        """
        self.times = StageClock()
        self.warm_up()
        with Runner(self, RunningMode.VIDEO, analyzer=self.analyzer, max_faces=self.max_faces) as run:
            summary: VideoSummary = run.video(src, dst, progress=progress, pipeline=pipeline, encode_preset=encode_preset,
                                              on_progress=on_progress, should_stop=should_stop)
        out = summary.to_dict()
        self.times.frames = summary.frames  # drive / render / composite ms per frame, not totals
        out["ms_per_stage"] = {**out["ms_per_stage"], **self.times.per_frame()}
        return out

    def stream(self) -> "AvatarStream":
        """A live stream: push frames one by one, get composited frames back (a LIVE-mode runner)."""
        return AvatarStream(self)

    def close(self) -> None:
        """Release the analyser and every GPU resource (meshes, renderer); call it on the rendering thread."""
        for st in self._states:
            for av in st.avatars.values():
                av.release()
            st.avatars.clear()
            st.drivers.clear()
        self._states.clear()
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None
        if self._segmenter is not None:
            self._segmenter.close()
            self._segmenter = None

    def release_state(self, state: AvatarState) -> None:
        """Free one stream's avatars (GL meshes) when the stream ends, keeping the effect open."""
        for av in state.avatars.values():
            av.release()
        state.avatars.clear()
        state.drivers.clear()
        if state in self._states:
            self._states.remove(state)


class AvatarStream(Runner):
    """Streaming API: one output frame per input frame, in order — a LIVE-mode :class:`Runner`."""

    def __init__(self, effect: AvatarEffect) -> None:
        super().__init__(effect, RunningMode.LIVE, analyzer=effect.analyzer, max_faces=effect.max_faces)
        self.fx = effect

    @property
    def last_faces(self) -> list[Face]:
        last = getattr(self, "last", None)
        return last.faces if last is not None else []

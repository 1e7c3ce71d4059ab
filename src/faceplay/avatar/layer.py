"""Rendering the avatars of a frame: the region around the heads, within the live pixel budget.

:class:`AvatarRendering` is the rendering half of :class:`~faceplay.avatar.effect.AvatarEffect`
(which supplies ``renderer``, ``analyzer``, ``sources``, ``lighting`` / ``video_lighting``,
``video_pixels``, ``scale``, ``times`` and :meth:`avatar_for`). Photos take the high-quality
path (MSAA, studio lighting, full resolution); VIDEO / LIVE states render at most
``video_pixels`` pixels without MSAA and with the cheap shader, and smooth the silhouette
(:func:`faceplay.avatar.scene.soften_edges`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from faceplay.avatar.model import Avatar
from faceplay.avatar.scene import soften_edges
from faceplay.face.types import Face
from faceplay.render.camera import Camera

if TYPE_CHECKING:
    from faceplay.avatar.effect import AvatarState


class _Once:
    """A callable run at most once, timed (CPU work done while the rasteriser draws)."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn, self.done, self.seconds = fn, False, 0.0

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            t = time.perf_counter()
            self.fn()
            self.seconds = time.perf_counter() - t


class AvatarRendering:
    """Mixin: draw the avatars of a frame's faces (see the module docstring)."""

    def _model(self, pose: np.ndarray) -> np.ndarray:
        m = np.asarray(pose, np.float64).copy()
        if self.scale != 1.0:
            m[:3, :3] *= self.scale
        return m.astype(np.float32)

    def render_layer(self, width: int, height: int, faces: Sequence[Face], state: AvatarState, *,
                     weights: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
        """RGBA (premultiplied) layer of all faces' avatars at their poses, and the drawn bounding box.

        Only the region around the heads is rasterised; the rest stays transparent.
        """
        layer = np.zeros((height, width, 4), np.uint8)
        color, box = self.render_region(width, height, faces, state, weights=weights)
        if box is not None:
            x, y, w, h = box
            layer[y:y + h, x:x + w] = color
        return layer, box

    def render_region(self, width: int, height: int, faces: Sequence[Face], state: AvatarState, *,
                      weights: Sequence[np.ndarray] | None = None, exposure: float = 1.0,
                      meanwhile: Callable[[], object] | None = None,
                      ) -> tuple[np.ndarray | None, tuple[int, int, int, int] | None]:
        """Like :meth:`render_layer` but returns only the drawn rectangle's RGBA and its (x, y, w, h).

        ``exposure`` scales the lighting (replace mode matches it to the scene).
        Streams (VIDEO / LIVE) render within the live pixel budget and lighting.
        ``meanwhile``: CPU work done while the rasteriser draws (called once, also when nothing is drawn).
        """
        once = _Once(meanwhile) if meanwhile is not None else None
        result = self._render_region(width, height, faces, state, weights, exposure, once)
        if once is not None:
            once()  # nothing was drawn: done now (a no-op when it ran during the draw)
        return result

    def _render_region(self, width, height, faces, state, weights, exposure, meanwhile):
        cam = Camera.for_image(width, height)
        if not faces:
            return None, None
        t0 = time.perf_counter()
        temporal = state.temporal
        items = []
        rects = []
        for i, f in enumerate(faces):
            av = self.avatar_for(f, i, state)
            drv = state.drivers[self._key(f, i)]
            w = weights[i] if weights is not None else drv.weights(f, temporal=temporal)
            model = self._model(drv.pose(f, temporal=temporal, neutral_head=self.mode != "replace"))
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
        budget = self.video_pixels if temporal else None
        light = self.video_lighting if temporal else self.lighting
        if exposure != 1.0:
            from dataclasses import replace

            light = replace(light, exposure=light.exposure * exposure)
        # Streams within the budget: no MSAA (2-3x the render on llvmpipe), silhouette smoothed instead.
        samples = 0 if budget else None
        if budget and rw * rh > budget:
            k = (budget / (rw * rh)) ** 0.5
            small = Camera(crop.view, crop.proj, max(8, int(np.ceil(rw * k))), max(8, int(np.ceil(rh * k))))
            color = soften_edges(self.renderer.render(items, small, light, samples=samples, cheap=bool(budget),
                                                      meanwhile=meanwhile).color)
            import cv2

            color = cv2.resize(color, (rw, rh), interpolation=cv2.INTER_LINEAR)
        else:
            color = self.renderer.render(items, crop, light, samples=samples, cheap=bool(budget), meanwhile=meanwhile).color
            if budget:
                soften_edges(color)
        self.times.add("render", time.perf_counter() - t0 - (meanwhile.seconds if meanwhile is not None else 0.0))
        return color, (x0, y0, rw, rh)

    def warm_up(self) -> None:
        """Compile the renderer's shader variants and touch every avatar once, before the first frame.

        llvmpipe JIT-compiles a variant per pipeline state on first use (0.3-0.6 s);
        doing it here keeps that start-up cost out of the first frame. Call it on the
        rendering thread (OpenGL contexts are per thread); process_video does.
        """
        cam = Camera.orbit(64, 64, target=(0.0, 0.0, 0.0), distance=60.0)
        passes = [(self.lighting, None)] + ([(self.video_lighting, 0 if self.video_pixels else None)])
        for src in dict.fromkeys(self.sources):
            av = Avatar(src, self.renderer, mapping=self.mapping)
            try:
                for light, samples in passes:
                    self.renderer.render(av.draw_items(np.eye(4, dtype=np.float32), self.renderer), cam, light,
                                         samples=samples, cheap=samples == 0)
            finally:
                av.release()
        if self.fields:  # load the attribute models now (auto-configuration reads them on a face's first frame)
            from faceplay.media.image import read_image

            face_photo = Path(__file__).resolve().parents[1] / "models" / "selfcheck" / "obama-240p.jpg"
            if face_photo.is_file():
                self.analyzer.analyze(read_image(face_photo), fields=self.fields)
        if self.mode == "replace" and not self.keep_head:  # the person segmenter's session
            from faceplay.matting.segment import PersonSegmenter

            if self._segmenter is None:
                self._segmenter = PersonSegmenter("selfie")
            self._segmenter.matte(np.zeros((64, 64, 3), np.uint8))

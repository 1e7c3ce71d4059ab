"""Relighting as an :class:`~faceplay.effects.base.Effect`: one rig, any running mode.

>>> from faceplay.relight.effect import RelightEffect
>>> from faceplay.relight.lights import preset
>>> from faceplay.runner import Runner
>>> with RelightEffect(preset("rembrandt")) as fx, Runner(fx, "video") as run:    # doctest: +SKIP
...     run.video("in.mp4", "out.mp4")

IMAGE uses the photo relighter (shading map at 320 px, matte every frame);
VIDEO and LIVE use the video relighter (192 px, matte every 3rd frame, SH,
matte and gain maps smoothed over time in a per-stream
:class:`~faceplay.relight.relighter.RelightState`). ``passes=DIR`` also writes
the render passes of every frame (:mod:`faceplay.relight.passes`: one file
each for a photo, a numbered sequence per pass for a video);
``catchlights=True`` carries the original's eye catchlights over
(``--preset auto``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from faceplay.effects.base import Effect, EffectState
from faceplay.errors import ConfigError
from faceplay.face.types import Face, RunningMode
from faceplay.media.frame import Frame
from faceplay.relight.lights import Rig
from faceplay.relight.relighter import Relighter, RelightState


@dataclass(eq=False)  # a stream state is itself, not its contents
class RelightStreamState(EffectState):
    """One stream's temporal relighting state (None for photos)."""

    relight: RelightState | None = None
    last_result: object = field(default=None, repr=False)


class RelightEffect(Effect):
    """Relight every face of a frame with ``rig`` at ``strength`` (0..2, 1 = the rig as designed), blended by ``blend``.

    ``relighters`` may pass existing (photo, video) :class:`Relighter` objects to
    share their GL context; otherwise they are created on first use and closed
    by :meth:`close`.
    """

    name = "relight"
    max_faces = 3

    def __init__(self, rig: Rig, strength: float = 0.8, *, blend: str = "ratio", matte: str = "auto",
                 keep_layers: bool = False, photo_relighter: Relighter | None = None,
                 video_relighter: Relighter | None = None, passes: str | None = None,
                 catchlights: bool = False) -> None:
        if not 0.0 <= float(strength) <= 2.0:
            raise ConfigError(f"strength must be between 0 and 2, not {strength}")
        self.rig = rig
        self.strength = float(strength)
        self.blend = blend
        self.matte = matte
        self.keep_layers = keep_layers or passes is not None
        self.passes = passes
        self.catchlights = catchlights
        self._writer = None
        #: pass name -> path of the last photo's passes (IMAGE mode)
        self.written: dict[str, str] = {}
        self._photo, self._video = photo_relighter, video_relighter
        self._own = {"photo": photo_relighter is None, "video": video_relighter is None}

    def relighter(self, mode: RunningMode) -> Relighter:
        """The photo relighter for IMAGE, the video one for VIDEO / LIVE (created on first use)."""
        if mode is RunningMode.IMAGE:
            if self._photo is None:
                self._photo = Relighter(matte=self.matte)
            return self._photo
        if self._video is None:
            self._video = Relighter(video=True, matte=self.matte)
        return self._video

    def new_state(self, mode: RunningMode | str) -> RelightStreamState:
        m = self.check_mode(mode)
        return RelightStreamState(m, relight=None if m is RunningMode.IMAGE else RelightState())

    def apply(self, frame: Frame, faces: Sequence[Face], state: EffectState) -> np.ndarray:
        """The relit frame (RGB uint8); the full :class:`RelightResult` is kept in ``state.last_result``."""
        if not isinstance(state, RelightStreamState):
            raise ConfigError("RelightEffect.apply needs a state from RelightEffect.new_state()")
        res = self.relighter(state.mode).relight(frame.rgb, list(faces), self.rig, self.strength, blend=self.blend,
                                                 state=state.relight, keep_layers=self.keep_layers)
        state.last_result = res
        if self.catchlights and faces and res.n_faces:
            from faceplay.relight.auto import keep_catchlights

            keep_catchlights(frame.rgb, res.image, list(faces))
        if self.passes is not None:
            self._write_passes(frame, res, state.mode)
        return res.image

    def _write_passes(self, frame: Frame, res, mode: RunningMode) -> None:
        from faceplay.relight import passes

        if mode is RunningMode.IMAGE:
            self.written = passes.write_photo(self.passes, frame.rgb, res)
            return
        if self._writer is None:
            self._writer = passes.SequenceWriter(self.passes)
        self._writer.write(getattr(frame, "index", self._writer.frames), frame.rgb, res)

    def close(self) -> None:
        for key in ("photo", "video"):
            r = getattr(self, f"_{key}")
            if r is not None and self._own[key]:
                r.close()
            setattr(self, f"_{key}", None)

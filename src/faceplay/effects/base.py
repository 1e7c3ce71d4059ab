"""The one contract every effect honours (as MediaPipe's vision tasks do).

An effect turns a frame and its faces into an output image. It declares the
optional :class:`~faceplay.face.types.Face` fields it needs (the runner
computes them once per face or track), keeps everything that lives across the
frames of one stream in a per-stream *state* it creates for a
:class:`~faceplay.face.types.RunningMode`, and implements::

    state = effect.new_state(RunningMode.VIDEO)
    effect.prepare(frame, faces, state)          # optional: GL-free per-frame work
    out = effect.apply(frame, faces, state)      # frame: faceplay.media.Frame

:meth:`Effect.prepare` is where an effect does per-frame work that needs
neither the GL context nor the output of earlier frames (a person matte, say):
the runner calls it on the analysis thread, one frame ahead of :meth:`apply`
in VIDEO mode and in :meth:`~faceplay.runner.Runner.live`, so it overlaps the
previous frame's rendering. It leaves its results in the frame's cache.

The running mode decides quality budgets and smoothing: IMAGE takes the
high-quality path, VIDEO and LIVE the temporal (smoothed) one, LIVE within a
latency budget. :class:`faceplay.runner.Runner` drives every effect in all
three modes; the CLI, the web app and benchmarks are shells over it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from faceplay.errors import ConfigError
from faceplay.face.types import Face, RunningMode
from faceplay.media.frame import Frame


@dataclass(eq=False)
class EffectState:
    """What one stream of an effect carries from frame to frame.

    ``mode`` is fixed at creation; :meth:`Effect.apply` refuses a state of a
    mode the effect cannot run in. Effects subclass it for their own data.
    """

    mode: RunningMode
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def temporal(self) -> bool:
        """True for VIDEO and LIVE: consecutive frames of one stream (smooth over time)."""
        return self.mode is not RunningMode.IMAGE


class Effect(ABC):
    """Base class of every effect.

    Subclasses set :attr:`name` and :attr:`fields`, and implement
    :meth:`apply`; they override :meth:`new_state` to carry per-stream data,
    :meth:`output_size` when the output is not the input's size,
    :meth:`output_alpha` when they return RGBA, and :meth:`close` to free
    resources.
    """

    name: str = "effect"
    #: optional Face fields the effect reads (see faceplay.face.types.FIELDS); computed once per face / track
    fields: tuple[str, ...] = ()
    #: running modes the effect supports
    modes: tuple[RunningMode, ...] = (RunningMode.IMAGE, RunningMode.VIDEO, RunningMode.LIVE)

    def new_state(self, mode: RunningMode | str) -> EffectState:
        """A fresh per-stream state for ``mode`` (a :class:`ConfigError` for a mode this effect lacks)."""
        return EffectState(self.check_mode(mode))

    def check_mode(self, mode: RunningMode | str) -> RunningMode:
        """``mode`` as a :class:`RunningMode`, refused with a clear error when the effect lacks it."""
        try:
            m = RunningMode(mode)
        except ValueError:
            raise ConfigError(f"unknown running mode {mode!r}; choose image, video or live") from None
        if m not in self.modes:
            raise ConfigError(f"the {self.name} effect cannot run in {m.value} mode; it runs in "
                              f"{', '.join(x.value for x in self.modes)} mode")
        return m

    def prepare(self, frame: Frame, faces: Sequence[Face], state: EffectState) -> None:
        """GL-free work for ``frame`` before :meth:`apply` (results go in ``frame.cached``). No-op by default.

        Runs on the analysis thread, possibly while :meth:`apply` renders the previous
        frame: it may only touch state that :meth:`apply` does not (frames arrive in order).
        """

    @abstractmethod
    def apply(self, frame: Frame, faces: Sequence[Face], state: EffectState) -> np.ndarray:
        """The output image (RGB uint8, or RGBA when :meth:`output_alpha`) for one frame and its faces."""

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """Output (width, height) for an input of this size."""
        return width, height

    def output_alpha(self) -> bool:
        """True when :meth:`apply` returns RGBA (e.g. a transparent avatar)."""
        return False

    def release_state(self, state: EffectState) -> None:
        """A stream ended: free what its state holds (the effect stays open). No-op by default."""

    def close(self) -> None:
        """Release models and GPU resources (call on the thread that rendered)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

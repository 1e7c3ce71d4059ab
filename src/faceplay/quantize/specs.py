"""What to quantize: per model, how to build its real inputs, which float rewrites
apply, and which task metric judges the INT8 variant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """One quantizable model of the manifest."""

    name: str  #: manifest name of the float model
    task: str  #: "embedding" | "age_gender" | "gear" | "expression" | "segmentation"
    build: Callable  #: (frame, faces) -> list of input arrays (one per face, or one per frame)
    rewrites: tuple[str, ...] = ()  #: float-exact graph rewrites applied before quantizing (see graph.py)
    optional: bool = False  #: quantized only when the float model is present (fetched models)
    notes: str = ""


def _per_face(model_factory: Callable) -> Callable:
    holder: dict = {}

    def build(frame, faces) -> list[np.ndarray]:
        m = holder.setdefault("m", model_factory())
        return [m.preprocess(frame, f) for f in faces]

    return build


def _per_frame_segmenter(name: str) -> Callable:
    holder: dict = {}

    def build(frame, faces) -> list[np.ndarray]:
        from faceplay.matting.segment import PersonSegmenter

        m = holder.setdefault("m", PersonSegmenter(name))
        return [m.preprocess(frame.rgb)]

    return build


def _sface():
    from faceplay.face.embed import SFaceModel

    return SFaceModel(precision="fp32")


def _arcface():
    from faceplay.face.embed import ArcFaceModel

    return ArcFaceModel(precision="fp32")


def _faceres():
    from faceplay.face.attributes import AgeGenderModel

    return AgeGenderModel(precision="fp32", use_gear=False)


def _gear():
    from faceplay.face.attributes import GearModel

    return GearModel(precision="fp32")


def _emotion():
    from faceplay.face.attributes import EmotionModel

    return EmotionModel(precision="fp32")


SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("sface", "embedding", _per_face(_sface), rewrites=("prelu",),
                  notes="PRelu rewritten as Relu(x) - a*Relu(-x) so every activation can stay int8"),
        ModelSpec("arcface", "embedding", _per_face(_arcface), rewrites=("prelu",), optional=True),
        ModelSpec("faceres", "age_gender", _per_face(_faceres), rewrites=("relu6",)),
        ModelSpec("gear", "gear", _per_face(_gear)),
        ModelSpec("emotion", "expression", _per_face(_emotion)),
        ModelSpec("selfie", "segmentation", _per_frame_segmenter("selfie")),
        ModelSpec("meet", "segmentation", _per_frame_segmenter("meet")),
    )
}


def spec(name: str) -> ModelSpec:
    """The spec of ``name``; a ConfigError lists the quantizable models."""
    from faceplay.errors import ConfigError

    if name not in SPECS:
        raise ConfigError(f"model {name!r} cannot be quantized; choose from {', '.join(SPECS)}")
    return SPECS[name]

"""Portrait 3D relighting: fit a face model, render a shading map, blend it with masks.

>>> from faceplay.relight import relight_image, preset
>>> result = relight_image("portrait.jpg", preset("rembrandt"), strength=0.8)
>>> result.image          # (H, W, 3) uint8
>>> rig, info = light_from_reference("lit_like_this.jpg")   # or light_from_env("room.hdr", rotate=90)

Names are imported lazily so ``import faceplay.relight`` loads no model.
"""

from __future__ import annotations

__all__ = [
    "Light", "Rig", "PRESETS", "preset", "parse_light", "rig_from_json", "custom_rig",
    "Relighter", "RelightResult", "RelightState", "relight_image", "relight_video", "gallery",
    "write_debug_layers", "RelightEffect", "light_from_reference", "match_light", "describe_sh", "light_from_env",
    "auto_rig", "write_passes",
]

_WHERE = {
    "Light": "lights", "Rig": "lights", "PRESETS": "lights", "preset": "lights", "parse_light": "lights",
    "rig_from_json": "lights", "custom_rig": "lights",
    "Relighter": "relighter", "RelightResult": "relighter", "RelightState": "relighter",
    "relight_image": "api", "relight_video": "api", "gallery": "api", "write_debug_layers": "api",
    "RelightEffect": "effect",
    "light_from_reference": "reference", "match_light": "reference", "describe_sh": "reference",
    "light_from_env": "envmap", "auto_rig": "auto", "write_passes": "passes",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"faceplay.relight.{_WHERE[name]}"), name)
    raise AttributeError(name)

"""Effects: one contract (:class:`Effect`), three running modes, one registry.

Every effect the CLI and the web app offer is listed in :data:`EFFECTS`
(name -> "module:class"); shells look effects up here instead of branching
per effect. Classes are imported only when used.
"""

from __future__ import annotations

import importlib

from faceplay.effects.base import Effect, EffectState
from faceplay.face.types import RunningMode

#: name -> "module:class" of every effect
EFFECTS: dict[str, str] = {
    "avatar": "faceplay.avatar.effect:AvatarEffect",
    "relight": "faceplay.relight.effect:RelightEffect",
    "annotate": "faceplay.effects.annotate:AnnotateEffect",
}


def effect_class(name: str) -> type[Effect]:
    """The Effect class registered as ``name`` (a ConfigError lists the known ones)."""
    from faceplay.errors import ConfigError

    target = EFFECTS.get(name)
    if target is None:
        raise ConfigError(f"unknown effect {name!r}; choose from {', '.join(sorted(EFFECTS))}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def create(name: str, *args, **kwargs) -> Effect:
    """A new effect ``name`` built with the given arguments."""
    return effect_class(name)(*args, **kwargs)


__all__ = ["EFFECTS", "Effect", "EffectState", "RunningMode", "create", "effect_class"]

"""Light rigs for relighting: directional, point and soft (area) lights, and presets.

Directions are given as azimuth / elevation in degrees, in the *image's* frame:
``az=0`` is a light at the camera, ``az<0`` comes from the image's left,
``az>0`` from the image's right (``±90`` = from the side, ``±180`` = from
behind); ``el>0`` from above. Colours are ``#rrggbb`` or ``r,g,b`` (0..1) —
in a CLI spec use ``#rrggbb``. Intensity 1 is a light about as strong as the
average light on a well-exposed face.

A light spec (CLI ``--light``)::

    type=directional,az=-60,el=20,color=#ffd0a0,intensity=1.5
    type=point,az=45,el=10,distance=1.5,color=#88aaff
    type=area,az=-30,el=30,size=0.6,intensity=1.2
    type=ambient,color=#ffffff,intensity=0.3
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError

LIGHT_TYPES = ("directional", "point", "area", "ambient")
EXPOSURE_MODES = ("keep", "absolute")
_FIELDS = ("type", "az", "el", "color", "intensity", "distance", "size", "specular")


@dataclass(frozen=True)
class Light:
    """One virtual light."""

    type: str = "directional"  #: directional | point | area | ambient
    az: float = 0.0  #: degrees, <0 from the image's left, >0 from its right
    el: float = 0.0  #: degrees, >0 from above
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)  #: linear RGB 0..1
    intensity: float = 1.0
    distance: float = 2.0  #: point lights: distance from the face centre in face widths
    size: float = 0.0  #: 0 = hard; area lights default to 0.5 (wraps light around the form)
    specular: float = 1.0  #: scales the highlight this light makes

    def direction(self) -> np.ndarray:
        """Unit vector towards the light, view frame (x right, y up, z towards the viewer)."""
        a, e = math.radians(self.az), math.radians(self.el)
        return np.array([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])

    @property
    def radiance(self) -> np.ndarray:
        return np.asarray(self.color, np.float64) * self.intensity

    def to_dict(self) -> dict:
        d = asdict(self)
        d["color"] = _hex(self.color)
        return d


@dataclass(frozen=True)
class Rig:
    """A set of lights plus how the result is blended."""

    name: str
    lights: tuple[Light, ...]
    description: str = ""
    #: how much of the original (estimated) shading is removed before the new light is added (0..1)
    neutralize: float = 1.0
    #: 0 = pixels outside the foreground matte stay unchanged; >0 tints the background with the rig's colour
    background: float = 0.0
    #: ``keep``: the relit face keeps the original's mean brightness times ``exposure`` (the light's
    #: shape changes, not the exposure); ``absolute``: lights are taken at face value against the skin
    #: albedo prior, so a dark face gets brighter (``backlit-fix``)
    exposure_mode: str = "keep"
    #: ``keep``: target mean brightness relative to the original; ``absolute``: multiplier of the lights
    exposure: float = 1.0
    #: optional (9, 3) SH light (linear, albedo removed), e.g. the estimated original light
    sh: np.ndarray | None = field(default=None, compare=False)

    def key(self) -> Light | None:
        """The strongest non-ambient light (casts the soft face shadow)."""
        ls = [l for l in self.lights if l.type != "ambient"]
        return max(ls, key=lambda l: float(l.radiance.sum())) if ls else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "neutralize": self.neutralize,
            "background": self.background,
            "exposure_mode": self.exposure_mode,
            "exposure": self.exposure,
            "lights": [l.to_dict() for l in self.lights],
            **({"sh": np.round(self.sh, 5).tolist()} if self.sh is not None else {}),
        }


def _hex(c) -> str:
    return "#" + "".join(f"{int(round(max(0.0, min(1.0, v)) * 255)):02x}" for v in c)


def parse_color(value: str, field_name: str = "color") -> tuple[float, float, float]:
    """``#rrggbb``, ``rrggbb``, ``#rgb`` or ``r,g,b`` / ``r;g;b`` (0..1) -> RGB floats."""
    v = str(value).strip()
    h = v[1:] if v.startswith("#") else v
    try:
        if len(h) in (3, 6) and all(ch in "0123456789abcdefABCDEF" for ch in h):
            if len(h) == 3:
                h = "".join(ch * 2 for ch in h)
            return tuple(int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
        parts = [float(p) for p in v.replace(";", ",").split(",")]
        if len(parts) == 3 and all(0.0 <= p <= 1.0 for p in parts):
            return tuple(parts)  # type: ignore[return-value]
    except ValueError:
        pass
    raise ConfigError(f"invalid light {field_name} {value!r}: use #rrggbb (e.g. #ffd0a0)")


def _number(key: str, value, lo: float, hi: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid light field {key}={value!r}: expected a number between {lo:g} and {hi:g}") from None
    if not (lo <= x <= hi) or not math.isfinite(x):
        raise ConfigError(f"invalid light field {key}={value!r}: must be between {lo:g} and {hi:g}")
    return x


_RANGES = {"az": (-180.0, 180.0), "el": (-90.0, 90.0), "intensity": (0.0, 20.0), "distance": (0.2, 50.0),
           "size": (0.0, 1.0), "specular": (0.0, 5.0)}


def light_from_dict(d: dict) -> Light:
    """Validate a mapping of light fields; a :class:`ConfigError` names the bad field."""
    unknown = [k for k in d if k not in _FIELDS]
    if unknown:
        raise ConfigError(f"invalid light field {unknown[0]!r}: known fields are {', '.join(_FIELDS)}")
    t = str(d.get("type", "directional")).strip().lower()
    if t not in LIGHT_TYPES:
        raise ConfigError(f"invalid light field type={t!r}: use one of {', '.join(LIGHT_TYPES)}")
    kw: dict = {"type": t}
    for k, (lo, hi) in _RANGES.items():
        if k in d:
            kw[k] = _number(k, d[k], lo, hi)
    if "color" in d:
        c = d["color"]
        kw["color"] = tuple(float(x) for x in c) if isinstance(c, (list, tuple)) and len(c) == 3 else parse_color(c)
    if t == "area" and "size" not in d:
        kw["size"] = 0.5
    return Light(**kw)


def parse_light(spec: str) -> Light:
    """Parse a CLI light spec ``key=value,key=value`` (see the module docstring)."""
    if not spec or not spec.strip():
        raise ConfigError("empty light spec: use e.g. 'type=directional,az=-60,el=20,color=#ffd0a0,intensity=1.5'")
    d: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"invalid light spec part {part!r}: expected key=value (e.g. az=-60)")
        k, v = part.split("=", 1)
        d[k.strip().lower()] = v.strip()
    return light_from_dict(d)


def _rig(name, desc, *lights, **kw) -> Rig:
    return Rig(name=name, lights=tuple(lights), description=desc, **kw)


_D, _P, _A, _AMB = "directional", "point", "area", "ambient"
WARM = (1.0, 0.86, 0.72)
COOL = (0.75, 0.85, 1.0)

PRESETS: dict[str, Rig] = {r.name: r for r in (
    _rig("left", "key light from the image's left side, soft fill",
         Light(_A, az=-65, el=15, intensity=1.5, size=0.3), Light(_AMB, intensity=0.2)),
    _rig("right", "key light from the image's right side, soft fill",
         Light(_A, az=65, el=15, intensity=1.5, size=0.3), Light(_AMB, intensity=0.2)),
    _rig("studio", "classic key + fill + a little ambient",
         Light(_A, az=-40, el=25, intensity=1.0, size=0.5), Light(_A, az=45, el=5, intensity=0.4, size=0.8),
         Light(_AMB, intensity=0.3)),
    _rig("rembrandt", "high key at 45 degrees: a lit triangle on the shadowed cheek",
         Light(_D, az=-50, el=40, intensity=1.35, size=0.15), Light(_AMB, intensity=0.18), exposure=0.95),
    _rig("butterfly", "key high in front: a butterfly shadow under the nose",
         Light(_A, az=0, el=45, intensity=1.2, size=0.25), Light(_AMB, intensity=0.3)),
    _rig("split", "key from the side: one half of the face lit, the other dark",
         Light(_D, az=-90, el=0, intensity=1.4, size=0.1), Light(_AMB, intensity=0.1), exposure=0.9),
    _rig("rim", "two lights from behind outline the face; a dim front fill",
         Light(_D, az=-115, el=15, intensity=1.8, specular=1.0), Light(_D, az=115, el=15, intensity=1.8, specular=1.0),
         Light(_AMB, intensity=0.3), exposure=0.75),
    _rig("neon", "magenta and cyan lights from either side",
         Light(_A, az=-70, el=5, color=(1.0, 0.2, 0.75), intensity=1.2, size=0.4),
         Light(_A, az=70, el=5, color=(0.1, 0.85, 1.0), intensity=1.2, size=0.4),
         Light(_AMB, color=(0.6, 0.5, 0.8), intensity=0.2), exposure=0.95),
    _rig("sunset", "low warm sun from the side, cool sky fill; warms the background",
         Light(_D, az=-60, el=8, color=(1.0, 0.62, 0.32), intensity=1.4, size=0.2),
         Light(_AMB, color=(0.55, 0.65, 0.95), intensity=0.35), background=0.25),
    _rig("backlit-fix", "lifts a dark face in a back-lit shot with a broad soft front light",
         Light(_A, az=-20, el=20, intensity=0.9, size=0.8), Light(_AMB, intensity=0.55), exposure_mode="absolute"),
    _rig("flat", "even frontal light (removes harsh shading)",
         Light(_A, az=0, el=10, intensity=0.7, size=0.9), Light(_AMB, intensity=0.45)),
)}


def preset(name: str) -> Rig:
    """A preset rig by name; a :class:`ConfigError` lists the known names."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)} (see `faceplay relight --list-presets`)")
    return PRESETS[key]


def rig_from_json(source: str | Path | dict) -> Rig:
    """A rig from JSON: ``{"name": ..., "lights": [{...}, ...], "neutralize": 1, "background": 0}``."""
    if isinstance(source, dict):
        d = source
    else:
        p = Path(source)
        try:
            text = p.read_text() if p.exists() else str(source)
            d = json.loads(text)
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"light rig {source}: not valid JSON ({exc}); see `faceplay relight --help`") from exc
    if isinstance(d, list):
        d = {"lights": d}
    if not isinstance(d, dict) or not isinstance(d.get("lights"), list) or not (d["lights"] or "sh" in d):
        raise ConfigError("light rig JSON needs a non-empty \"lights\" list")
    lights = tuple(light_from_dict(x) if isinstance(x, dict) else parse_light(str(x)) for x in d["lights"])
    if "sh" in d:
        sh = np.asarray(d["sh"], np.float64)
        if sh.shape != (9, 3):
            raise ConfigError("light rig field \"sh\" must be 9 rows of 3 numbers (second-order SH per RGB channel)")
        kw_sh = {"sh": sh}
    else:
        kw_sh = {}
    kw = {}
    for k, lo, hi in (("neutralize", 0, 1), ("background", 0, 1), ("exposure", 0, 10)):
        if k in d:
            kw[k] = _number(k, d[k], lo, hi)
    if "exposure_mode" in d:
        if d["exposure_mode"] not in EXPOSURE_MODES:
            raise ConfigError(f"invalid rig field exposure_mode={d['exposure_mode']!r}: use keep or absolute")
        kw["exposure_mode"] = d["exposure_mode"]
    return Rig(name=str(d.get("name", "custom")), lights=lights, description=str(d.get("description", "")), **kw, **kw_sh)


def custom_rig(lights: list[Light], base: Rig | None = None) -> Rig:
    """A rig of the given lights, added to ``base``'s lights when a preset is also chosen."""
    if base is None:
        return Rig(name="custom", lights=tuple(lights), description="lights from the command line")
    return replace(base, name=base.name + "+custom", lights=base.lights + tuple(lights))

"""An avatar: a glTF asset whose ARKit-named morph targets are driven per frame.

Built-in avatars and user files go through the same loader
(:func:`faceplay.render.gltf.read_glb`). Assets are cached per process;
:class:`Avatar` instances keep their own weights, visibility and material
overrides, and share the GPU meshes of one :class:`~faceplay.render.Renderer`.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceplay.errors import ConfigError
from faceplay.face.types import BLENDSHAPE_NAMES
from faceplay.render.gltf import GltfAsset, GltfError, read_glb
from faceplay.render.material import Material

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"


class AvatarError(ConfigError):
    """An avatar name, file or mapping cannot be used."""


def builtin_names() -> list[str]:
    """Names of the avatars shipped with faceplay (the .glb files in avatar/assets)."""
    return sorted(p.stem for p in ASSETS.glob("*.glb"))


def builtin_path(name: str) -> Path:
    """Path of a built-in avatar; raises :class:`AvatarError` listing the known ones."""
    p = ASSETS / f"{name}.glb"
    if not p.is_file():
        raise AvatarError(f"unknown avatar {name!r}; built-in avatars: {', '.join(builtin_names())} "
                          "(or pass the path of a .glb file)")
    return p


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> GltfAsset:
    del mtime
    return read_glb(path)


def load_asset(name_or_path: str | Path) -> GltfAsset:
    """Load a built-in avatar by name, or any .glb by path (cached)."""
    s = str(name_or_path)
    p = Path(s)
    if p.suffix.lower() in (".glb", ".vrm") or p.exists():
        if not p.is_file():
            from faceplay.errors import InputNotFoundError

            raise InputNotFoundError(f"avatar file not found: {p}")
    else:
        p = builtin_path(s)
    return _load(str(p.resolve()), p.stat().st_mtime)


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """A user mapping file: JSON object {ARKit name: morph target name in the file}."""
    if path is None:
        return {}
    p = Path(path)
    try:
        m = json.loads(p.read_text())
    except FileNotFoundError:
        raise AvatarError(f"mapping file not found: {p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvatarError(f"mapping file {p} is not valid JSON ({exc}); expected {{\"jawOpen\": \"MouthOpen\", ...}}") from None
    if not isinstance(m, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in m.items()):
        raise AvatarError(f"mapping file {p} must be a JSON object of ARKit name -> morph target name")
    bad = sorted(set(m) - set(BLENDSHAPE_NAMES))
    if bad:
        raise AvatarError(f"mapping file {p} has keys that are not ARKit blendshape names: {', '.join(bad)}")
    return m


#: VRM expression presets (0.x lower-case names and 1.0 names) -> [(ARKit name, share)].
VRM_PRESETS: dict[str, list[tuple[str, float]]] = {
    "a": [("jawOpen", 1.0)], "aa": [("jawOpen", 1.0)],
    "o": [("mouthFunnel", 1.0)], "oh": [("mouthFunnel", 1.0)],
    "u": [("mouthPucker", 1.0)], "ou": [("mouthPucker", 1.0)],
    "i": [("mouthStretchLeft", 0.5), ("mouthStretchRight", 0.5)], "ih": [("mouthStretchLeft", 0.5), ("mouthStretchRight", 0.5)],
    "e": [("mouthLowerDownLeft", 0.5), ("mouthLowerDownRight", 0.5)], "ee": [("mouthLowerDownLeft", 0.5), ("mouthLowerDownRight", 0.5)],
    "joy": [("mouthSmileLeft", 0.5), ("mouthSmileRight", 0.5)], "happy": [("mouthSmileLeft", 0.5), ("mouthSmileRight", 0.5)],
    "sorrow": [("mouthFrownLeft", 0.5), ("mouthFrownRight", 0.5)], "sad": [("mouthFrownLeft", 0.5), ("mouthFrownRight", 0.5)],
    "angry": [("browDownLeft", 0.5), ("browDownRight", 0.5)],
    "surprised": [("browInnerUp", 1.0)],
    "blink_l": [("eyeBlinkLeft", 1.0)], "blinkleft": [("eyeBlinkLeft", 1.0)],
    "blink_r": [("eyeBlinkRight", 1.0)], "blinkright": [("eyeBlinkRight", 1.0)],
    "lookup": [("eyeLookUpLeft", 0.5), ("eyeLookUpRight", 0.5)], "lookdown": [("eyeLookDownLeft", 0.5), ("eyeLookDownRight", 0.5)],
}


def vrm_expressions(asset: GltfAsset) -> dict[str, list[tuple[str, float]]]:
    """VRM 0.x ``blendShapeMaster`` / VRM 1.0 ``expressions``: preset name -> [(morph target name, weight 0..1)]."""
    ext = asset.extensions or {}
    out: dict[str, list[tuple[str, float]]] = {}

    def name_of(mesh: int | None, index: int) -> str | None:
        names = asset.mesh_target_names.get(mesh, [])
        return names[index] if mesh is not None and 0 <= index < len(names) else None

    for g in ((ext.get("VRM") or {}).get("blendShapeMaster") or {}).get("blendShapeGroups", []):
        key = str(g.get("presetName") or g.get("name") or "").lower()
        binds = [(name_of(b.get("mesh"), int(b.get("index", -1))), float(b.get("weight", 100)) / 100.0) for b in g.get("binds", [])]
        if key and key != "unknown":
            out[key] = [(n, w) for n, w in binds if n]
    exprs = (ext.get("VRMC_vrm") or {}).get("expressions") or {}
    for group in ("preset", "custom"):
        for key, e in (exprs.get(group) or {}).items():
            binds = [(name_of(asset.node_mesh.get(b.get("node")), int(b.get("index", -1))), float(b.get("weight", 1.0)))
                     for b in e.get("morphTargetBinds", [])]
            out[key.lower()] = [(n, w) for n, w in binds if n]
    if "blink" in out:  # both eyes in one preset: split it when there are no one-sided ones
        out.setdefault("blink_l", out["blink"])
        out.setdefault("blink_r", out["blink"])
    return out


#: ARKit names whose absence makes an avatar unusable (the core expression set).
REQUIRED = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight")


def resolve_targets(asset: GltfAsset, mapping: dict[str, str] | None = None) -> dict[str, list[tuple[str, float]]]:
    """ARKit name -> [(morph target name in ``asset``, weight)].

    Names match case-insensitively (prefixes like ``blendShape1.`` or ``ARKit_``
    tolerated); a user ``mapping`` wins; a VRM file without ARKit names is
    driven through its expression presets (visemes, blink, joy...). Raises
    :class:`AvatarError` naming what is missing when nothing usable is found.
    """
    names = asset.morph_names
    src = Path(asset.path).name
    if not names:
        raise AvatarError(f"{src} has no morph targets; an avatar needs the 52 ARKit blendshapes as morph targets "
                          f"(e.g. {', '.join(REQUIRED)}), named as in ARKit / Ready Player Me, or a --mapping file")
    lower = {}
    for n in names:
        key = n.split(".")[-1].lower()
        for pre in ("arkit_", "blendshape_", "bs_"):
            if key.startswith(pre):
                key = key[len(pre):]
        lower.setdefault(key, n)
    out: dict[str, list[tuple[str, float]]] = {}
    for a in BLENDSHAPE_NAMES:
        if mapping and a in mapping:
            if mapping[a] not in names:
                raise AvatarError(f"mapping sends {a} to {mapping[a]!r}, which is not a morph target of {src} "
                                  f"(it has: {', '.join(names[:20])}{'...' if len(names) > 20 else ''})")
            out[a] = [(mapping[a], 1.0)]
        elif a.lower() in lower:
            out[a] = [(lower[a.lower()], 1.0)]
    if not out:
        vrm = vrm_expressions(asset)
        for preset, arkits in VRM_PRESETS.items():
            for target, w in vrm.get(preset, []):
                for a, share in arkits:
                    out.setdefault(a, []).append((target, w * share if share < 1 else w))
        if out:
            log.info("%s: driven through its VRM expressions (%d ARKit shapes mapped)", src, len(out))
    missing = [a for a in BLENDSHAPE_NAMES if a not in out]
    if not out:
        raise AvatarError(f"none of the morph targets of {src} ({', '.join(names[:12])}{'...' if len(names) > 12 else ''}) "
                          f"matches an ARKit blendshape name; missing all 52, e.g. {', '.join(REQUIRED)}; "
                          "rename them or pass a --mapping JSON file {\"jawOpen\": \"YourName\", ...}")
    req_missing = [a for a in REQUIRED if a not in out]
    if req_missing:
        raise AvatarError(f"{src} lacks the required morph targets {', '.join(req_missing)} "
                          f"(missing {len(missing)} of 52: {', '.join(missing)})")
    if missing:
        log.warning("%s: %d ARKit morph targets missing (they will not move): %s", src, len(missing), ", ".join(missing))
    return out


@dataclass
class AvatarConfig:
    """User-visible avatar options; ``None`` means "choose from the face / keep the asset's".

    ``skin``/``hair_color``/``eye_color`` are '#rrggbb' sRGB; ``hair`` and ``beard``
    name one of the asset's options (see ``faceplay avatar --list``); ``head_shape``
    is one of oval, round, square, heart, oblong.
    """

    skin: str | None = None
    hair: str | None = None
    hair_color: str | None = None
    beard: str | None = None
    eye_color: str | None = None
    head_shape: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


_BLEND_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}

HEAD_SHAPES = {"oval": {}, "round": {"shape_round": 1.0}, "square": {"shape_square": 1.0},
               "heart": {"shape_heart": 1.0}, "oblong": {"shape_long": 1.0}}


@dataclass
class _Part:
    gpu: object
    material: Material
    name: str
    index: np.ndarray  # (T_part,) indices into the avatar's weight vector, per part target
    visible: bool = True


class Avatar:
    """One drivable avatar instance.

    >>> av = Avatar("robot", renderer)         # doctest: +SKIP
    >>> av.set_weights({"jawOpen": 1.0})        # doctest: +SKIP
    >>> items = av.draw_items(model_matrix)     # doctest: +SKIP
    """

    def __init__(self, source: str | Path = "toon", renderer=None, *, mapping: dict[str, str] | None = None,
                 config: AvatarConfig | None = None) -> None:
        self.asset = load_asset(source)
        self.source = str(source)
        self.meta = (self.asset.extras or {}).get("faceplay", {})
        self.name = self.meta.get("name", Path(self.asset.path).stem)
        self.targets = resolve_targets(self.asset, mapping)
        self.names = list(self.asset.morph_names)  # all target names (ARKit + extras)
        self._slot = {n: i for i, n in enumerate(self.names)}
        self.weights = np.zeros(len(self.names), np.float32)
        self.base_weights = np.zeros(len(self.names), np.float32)  # shape options etc.
        self.renderer = renderer
        self.parts: list[_Part] = []
        for prim in self.asset.primitives:
            idx = np.array([self._slot[n] for n in prim.mesh.morph_names], np.int64)
            self.parts.append(_Part(None, prim.material, prim.mesh.name or prim.node, idx))
        # ARKit weights -> target weights in one product: _drive[arkit, slot] = share
        self._drive = np.zeros((len(BLENDSHAPE_NAMES), len(self.names)), np.float32)
        for k, pairs in self.targets.items():
            if k in _BLEND_INDEX:
                for t, share in pairs:
                    self._drive[_BLEND_INDEX[k], self._slot[t]] += share
        self.config = AvatarConfig()
        self.apply_config(config or AvatarConfig())

    # -- configuration -------------------------------------------------------------
    @property
    def options(self) -> dict:
        """Switchable parts of this avatar, e.g. {"hair": {"short": [...], ...}, "default": {...}}."""
        return self.meta.get("options", {}) or {}

    def apply_config(self, cfg: AvatarConfig) -> None:
        """Apply colour / part / head-shape options (unknown values raise :class:`AvatarError`)."""
        from faceplay.render.material import hex_color

        self.config = cfg
        opts = self.options
        defaults = opts.get("default", {})
        # visibility
        for p in self.parts:
            p.visible = True
        for group, choices in opts.items():
            if group == "default":
                continue
            want = getattr(cfg, group, None) or defaults.get(group)
            if want is not None and want not in choices:
                raise AvatarError(f"{self.name} has no {group} option {want!r}; choose one of {', '.join(choices)}")
            shown = set(choices.get(want, [])) if want else set()
            every = {n for v in choices.values() for n in v}
            for p in self.parts:
                base = p.name.split("/")[0]
                if base in every:
                    p.visible = base in shown
        # colours
        for p in self.parts:
            mname = p.material.name
            try:
                if cfg.skin and mname in ("skin", "lid"):
                    p.material = p.material.copy(base_color=hex_color(cfg.skin), base_color_texture=None)
                elif cfg.hair_color and mname in ("hair", "brow"):
                    p.material = p.material.copy(base_color=hex_color(cfg.hair_color))
                elif cfg.eye_color and mname == "eye" and p.material.base_color_texture is not None:
                    from faceplay.avatar.rigkit import eye_texture
                    from faceplay.render.material import srgb_to_linear

                    rgb = srgb_to_linear(np.array(hex_color(cfg.eye_color)[:3]) ** (1 / 2.4))
                    p.material = p.material.copy(base_color_texture=eye_texture(tuple(np.clip(rgb * 1.3, 0, 1))))
            except ValueError as exc:
                raise AvatarError(f"bad colour option: {exc}") from None
        # head shape
        self.base_weights[:] = 0.0
        if cfg.head_shape:
            if cfg.head_shape not in HEAD_SHAPES:
                raise AvatarError(f"unknown head shape {cfg.head_shape!r}; choose one of {', '.join(HEAD_SHAPES)}")
            for k, v in HEAD_SHAPES[cfg.head_shape].items():
                if k in self._slot:
                    self.base_weights[self._slot[k]] = v

    # -- driving -------------------------------------------------------------------
    def set_weights(self, blendshapes: dict[str, float] | np.ndarray) -> None:
        """Set the ARKit weights (dict by name, or an array in :data:`BLENDSHAPE_NAMES` order)."""
        if isinstance(blendshapes, dict):
            bs = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
            for k, v in blendshapes.items():
                if k in _BLEND_INDEX:
                    bs[_BLEND_INDEX[k]] = float(v)
        else:
            bs = np.asarray(blendshapes, np.float32)
        self.weights = np.clip(self.base_weights + bs @ self._drive, -1.0, 2.0)

    def part_weights(self, part: _Part) -> np.ndarray:
        return self.weights[part.index] if len(part.index) else None

    # -- rendering -----------------------------------------------------------------
    def draw_items(self, model: np.ndarray, renderer=None) -> list:
        """:class:`~faceplay.render.DrawItem` list for the current weights at ``model`` (4x4)."""
        from faceplay.render.renderer import DrawItem

        r = renderer or self.renderer
        if r is None:
            raise ValueError("Avatar.draw_items needs a Renderer")
        items = []
        model = np.asarray(model, np.float32)  # one array shared by the parts (the renderer converts it once)
        for part, prim in zip(self.parts, self.asset.primitives):
            if not part.visible:
                continue
            if part.gpu is None or part.gpu.ctx is not r.ctx:
                part.gpu = r.upload(prim.mesh)
            part.gpu.set_weights(self.part_weights(part))
            items.append(DrawItem(part.gpu, part.material, model))
        return items

    def release(self) -> None:
        """Free this avatar's GPU buffers."""
        for p in self.parts:
            if p.gpu is not None:
                p.gpu.release()
                p.gpu = None

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box of the visible parts at rest (asset units, cm for built-ins)."""
        key = tuple(p.visible for p in self.parts)  # options switch parts on and off
        hit = getattr(self, "_bounds", None)
        if hit is None or hit[0] != key:
            a = np.concatenate([prim.mesh.positions for part, prim in zip(self.parts, self.asset.primitives) if part.visible])
            hit = self._bounds = (key, (a.min(0), a.max(0)))
        return hit[1]


__all__ = ["Avatar", "AvatarConfig", "AvatarError", "GltfError", "builtin_names", "builtin_path", "load_asset",
           "load_mapping", "resolve_targets", "HEAD_SHAPES"]

"""Metallic-roughness PBR materials (the glTF 2.0 model, plus sheen for cloth/fur)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Material:
    """A glTF 2.0 metallic-roughness material.

    Colours are linear RGB(A) 0..1. Textures are uint8 arrays (H, W, 3|4):
    ``base_color_texture`` in sRGB, ``normal_texture`` a tangent-space normal
    map (OpenGL/glTF convention, +y up), ``roughness_texture`` greyscale
    multiplying ``roughness``. ``sheen_color`` (KHR_materials_sheen) adds the
    soft rim of cloth and fur; ``clearcoat`` a thin glossy layer (plastic, car paint).
    """

    name: str = "material"
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    metallic: float = 0.0
    roughness: float = 0.5
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_color_texture: np.ndarray | None = None
    normal_texture: np.ndarray | None = None
    normal_scale: float = 1.0
    roughness_texture: np.ndarray | None = None
    sheen_color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sheen_roughness: float = 0.5
    clearcoat: float = 0.0
    clearcoat_roughness: float = 0.05
    double_sided: bool = False

    def copy(self, **changes) -> "Material":
        """A copy with some fields changed."""
        d = dict(self.__dict__)
        d.update(changes)
        return Material(**d)


def srgb_to_linear(c) -> np.ndarray:
    """sRGB 0..1 -> linear 0..1 (elementwise)."""
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c) -> np.ndarray:
    """Linear 0..1 -> sRGB 0..1 (elementwise)."""
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def hex_color(s: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """'#rrggbb' (sRGB) -> linear RGBA tuple."""
    s = s.lstrip("#")
    if len(s) != 6:
        raise ValueError(f"expected a colour like #c68642, got {s!r}")
    rgb = srgb_to_linear([int(s[i:i + 2], 16) / 255.0 for i in (0, 2, 4)])
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]), float(alpha))

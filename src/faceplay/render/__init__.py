"""Headless PBR renderer shared by the avatar and relighting features.

Layers: :mod:`~faceplay.render.context` (one EGL context per thread),
:mod:`~faceplay.render.mesh` (MeshData / GpuMesh with morph targets),
:mod:`~faceplay.render.camera` (image-matched perspective cameras),
:mod:`~faceplay.render.material` (glTF metallic-roughness + sheen/clearcoat),
:mod:`~faceplay.render.lights` (key lights + environment / SH irradiance),
:mod:`~faceplay.render.renderer` (offscreen draw → RGBA, normal, depth),
:mod:`~faceplay.render.composite` (alpha compositing helpers),
:mod:`~faceplay.render.gltf` (one glTF 2.0 .glb reader/writer).

Nothing here touches OpenGL at import time.
"""

from faceplay.render.camera import Camera, look_at, perspective
from faceplay.render.composite import alpha_over, over_color, unpremultiply
from faceplay.render.lights import Environment, Light, Lighting
from faceplay.render.material import Material, hex_color, linear_to_srgb, srgb_to_linear
from faceplay.render.mesh import GpuMesh, MeshData, vertex_normals
from faceplay.render.renderer import DrawItem, Renderer, RenderResult

__all__ = [
    "Camera", "look_at", "perspective", "alpha_over", "over_color", "unpremultiply", "Environment", "Light",
    "Lighting", "Material", "hex_color", "linear_to_srgb", "srgb_to_linear", "GpuMesh", "MeshData", "vertex_normals",
    "DrawItem", "Renderer", "RenderResult",
]

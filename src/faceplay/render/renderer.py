"""Offscreen PBR renderer: draw meshes with materials and lights into an RGBA image.

Typical use::

    from faceplay.render import Renderer, Camera, Lighting, MeshData, Material

    r = Renderer(samples=4)
    mesh = r.upload(MeshData(positions, indices))
    cam = Camera.for_image(640, 480)
    out = r.render([DrawItem(mesh, Material(base_color=(1, 0, 0, 1)), model)], cam, Lighting.studio(),
                   outputs=("color", "depth", "normal"))
    out.color   # (480, 640, 4) uint8, premultiplied alpha, transparent background

Anti-aliasing is multisampling (``samples``) and/or supersampling
(``supersample``: render at k times the size and box-filter down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from faceplay.errors import RenderError
from faceplay.render.camera import Camera
from faceplay.render.context import collect_garbage, finish, flush, gl_context
from faceplay.render.lights import MAX_LIGHTS, Lighting
from faceplay.render.material import Material
from faceplay.render.mesh import GpuMesh, MeshData
from faceplay.render import shaders

log = logging.getLogger(__name__)


@dataclass
class DrawItem:
    """One mesh drawn with one material at one model matrix (object -> world)."""

    mesh: GpuMesh
    material: Material
    model: np.ndarray = field(default_factory=lambda: np.eye(4, dtype=np.float32))


@dataclass
class RenderResult:
    """What one render produced.

    ``color``: (H, W, 4) uint8 sRGB, premultiplied alpha (0 where nothing drawn).
    ``normal``: (H, W, 3) float32 world-space unit normals (only when asked).
    ``depth``: (H, W) float32 distance along the view axis, ``inf`` where empty (only when asked).
    """

    color: np.ndarray
    normal: np.ndarray | None = None
    depth: np.ndarray | None = None

    @property
    def alpha(self) -> np.ndarray:
        """(H, W) float32 coverage 0..1."""
        return self.color[..., 3].astype(np.float32) / 255.0


class Renderer:
    """A reusable offscreen renderer on the thread's EGL context (see :func:`gl_context`).

    ``samples``: MSAA samples (0/1 = off, 4 typical). Framebuffers are cached per size.
    """

    #: meshes with fewer triangles are left out of the depth pre-pass (they write depth when shaded)
    prepass_min_triangles = 1000

    def __init__(self, samples: int = 4, ctx=None, depth_prepass: bool = True) -> None:
        self.ctx = ctx or gl_context()
        self.samples = int(samples)
        self.depth_prepass = depth_prepass
        try:
            self.program = self.ctx.program(vertex_shader=shaders.VERTEX, fragment_shader=shaders.FRAGMENT)
            self.live_program = self.ctx.program(vertex_shader=shaders.VERTEX, fragment_shader=shaders.FRAGMENT_LIVE)
            self.depth_program = self.ctx.program(vertex_shader=shaders.DEPTH_VERTEX, fragment_shader=shaders.DEPTH_FRAGMENT)
        except Exception as exc:
            raise RenderError(f"could not compile the PBR shaders ({exc}); an OpenGL 3.3 driver is required") from exc
        self._fbos: dict[tuple, tuple] = {}
        self._textures: dict[int, tuple[object, object]] = {}
        self._env_key: int | None = None
        self._env_tex = None
        self._dummy = self.ctx.texture((1, 1), 4, b"\xff\xff\xff\xff")
        for prog in (self.program, self.live_program):  # texture units are fixed per sampler
            for name, unit in (("u_env", 0), ("u_base_tex", 1), ("u_normal_tex", 2), ("u_rough_tex", 3)):
                prog[name].value = unit
        self._bound: dict[int, object] = {}  # texture unit -> texture bound in this render call
        self._culling = False
        self.anisotropy = 1.0 if is_software(self.ctx) else 4.0

    # -- resources ---------------------------------------------------------
    def upload(self, data: MeshData) -> GpuMesh:
        """Create the GPU buffers of a mesh."""
        return GpuMesh(self.ctx, data)

    def _texture(self, arr: np.ndarray | None, *, mipmaps: bool = True):
        if arr is None:
            return None
        key = id(arr)
        hit = self._textures.get(key)
        if hit is not None and hit[1] is arr:
            return hit[0]
        a = np.ascontiguousarray(arr)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        if a.dtype != np.uint8:
            a = (np.clip(a, 0, 1) * 255).astype(np.uint8)
        h, w, c = a.shape
        tex = self.ctx.texture((w, h), c, a.tobytes())
        if mipmaps:
            tex.build_mipmaps()
            tex.anisotropy = self.anisotropy
        tex.repeat_x = tex.repeat_y = True
        self._textures[key] = (tex, arr)
        return tex

    def _environment(self, lighting: Lighting):
        env = lighting.environment
        if env is None:
            return None
        if self._env_key != id(env.image):
            img = np.ascontiguousarray(env.image, dtype=np.float32)
            h, w = img.shape[:2]
            if self._env_tex is not None:
                self._env_tex.release()
            tex = self.ctx.texture((w, h), 3, img.tobytes(), dtype="f4")
            tex.build_mipmaps()
            tex.repeat_x, tex.repeat_y = True, False
            self._env_tex, self._env_key, self._env_levels = tex, id(env.image), int(np.log2(max(w, h)))
            self._env_ref = env.image
        return self._env_tex

    def _framebuffers(self, w: int, h: int, samples: int, aux: bool):
        # sizes rounded up to 32 px so the changing head regions of a video reuse a few framebuffers
        w, h = -(-w // 32) * 32, -(-h // 32) * 32
        key = (w, h, samples, aux)
        fb = self._fbos.get(key)
        if fb is not None:
            return fb
        ctx = self.ctx
        ms = samples if samples > 1 else 0
        color = ctx.renderbuffer((w, h), 4, samples=ms)
        atts = [color]
        if aux:
            atts.append(ctx.renderbuffer((w, h), 4, samples=ms, dtype="f4"))
        depth = ctx.depth_renderbuffer((w, h), samples=ms)
        draw = ctx.framebuffer(color_attachments=atts, depth_attachment=depth)
        resolve = None
        if ms:
            ratts = [ctx.renderbuffer((w, h), 4)]
            if aux:
                ratts.append(ctx.renderbuffer((w, h), 4, dtype="f4"))
            resolve = ctx.framebuffer(color_attachments=ratts)
        if len(self._fbos) > 16:  # drop old sizes (head regions change size every frame)
            for k in list(self._fbos)[:8]:
                for f in self._fbos.pop(k):
                    if f is not None:
                        _release_framebuffer(f)
        self._fbos[key] = (draw, resolve)
        return draw, resolve

    # -- drawing -----------------------------------------------------------
    def _cull(self, on: bool) -> None:
        if on != self._culling:
            (self.ctx.enable if on else self.ctx.disable)(self.ctx.CULL_FACE)
            self._culling = on

    def _set_material(self, p, m: Material) -> None:
        p["u_base_color"].value = tuple(float(x) for x in m.base_color)
        p["u_metallic"].value = float(m.metallic)
        p["u_roughness"].value = float(m.roughness)
        p["u_emissive"].value = tuple(float(x) for x in m.emissive)
        p["u_sheen_color"].value = tuple(float(x) for x in m.sheen_color)
        p["u_sheen_roughness"].value = float(m.sheen_roughness)
        if p is self.program:  # the live program has no clearcoat lobe
            p["u_clearcoat"].value = float(m.clearcoat)
            p["u_clearcoat_roughness"].value = float(m.clearcoat_roughness)
        p["u_normal_scale"].value = float(m.normal_scale)
        p["u_double_sided"].value = bool(m.double_sided)
        for name, arr, unit in (("base", m.base_color_texture, 1), ("normal", m.normal_texture, 2), ("rough", m.roughness_texture, 3)):
            tex = self._texture(arr)
            p[f"u_has_{name}_tex"].value = tex is not None
            tex = tex or self._dummy
            if self._bound.get(unit) is not tex:
                tex.use(unit)
                self._bound[unit] = tex

    def render(self, items: list[DrawItem], camera: Camera, lighting: Lighting | None = None, *,
               outputs: tuple[str, ...] = ("color",), samples: int | None = None, supersample: int = 1,
               cheap: bool = False, meanwhile: Callable[[], object] | None = None) -> RenderResult:
        """Draw ``items`` seen by ``camera`` and read the requested ``outputs`` back.

        ``cheap`` (video and live frames) shades with the live program
        (:data:`~faceplay.render.shaders.FRAGMENT_LIVE`: no clearcoat lobe, a cheaper
        BRDF, environment reflections sampled for metals only).

        ``meanwhile``: CPU work to run while the rasteriser draws (called once, after the draw
        calls are flushed and before the read-back waits for them).

        ``outputs`` is any of "color", "normal", "depth". Returns a :class:`RenderResult`
        of size ``camera.width`` x ``camera.height``.
        """
        lighting = lighting or Lighting.studio()
        ss = max(1, int(supersample))
        w, h = camera.width * ss, camera.height * ss
        if w <= 0 or h <= 0:
            raise RenderError(f"cannot render an empty {w}x{h} image")
        samples = self.samples if samples is None else int(samples)
        aux = "normal" in outputs or "depth" in outputs
        models = _ModelMatrices()  # an avatar's parts share one model matrix: converted once
        self._bound = {}  # other renderers on this context may have bound their textures since
        draw, resolve = self._framebuffers(w, h, samples, aux)
        ctx = self.ctx
        draw.use()
        draw.viewport = (0, 0, w, h)
        draw.clear(0.0, 0.0, 0.0, 0.0, depth=1.0, viewport=(0, 0, w, h))
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.BLEND)
        ctx.disable(ctx.CULL_FACE)
        self._culling = False
        vp_bytes = (np.ascontiguousarray(camera.view.T, dtype=np.float32).tobytes(),
                    np.ascontiguousarray(camera.proj.T, dtype=np.float32).tobytes())
        if self.depth_prepass and len(items) > 1:
            # Pass 1: depth of the large meshes only (the occluders: each draw call costs its vertex
            # work on this thread); pass 2 shades only the visible surface of each pixel and writes the
            # depth of the small parts (equal depths pass).
            dp = self.depth_program
            dp["u_view"].write(vp_bytes[0])
            dp["u_proj"].write(vp_bytes[1])
            off, on = (False,) * 4, (True,) * 4
            draw.color_mask = (off, off) if aux else off
            for it in items:
                if it.mesh.data.n_triangles < self.prepass_min_triangles:
                    continue
                model_bytes, _, mirrored = models(it.model)
                dp["u_model"].write(model_bytes)
                self._cull(not (it.material.double_sided or mirrored))
                it.mesh.vao(dp).render()
            draw.color_mask = (on, on) if aux else on
            ctx.depth_func = "<="

        p = self.live_program if cheap else self.program
        p["u_view"].write(np.ascontiguousarray(camera.view.T, dtype=np.float32).tobytes())
        p["u_proj"].write(np.ascontiguousarray(camera.proj.T, dtype=np.float32).tobytes())
        p["u_camera"].value = tuple(float(x) for x in camera.position)
        lights = lighting.lights[:MAX_LIGHTS]
        p["u_n_lights"].value = len(lights)
        if lights:
            packed = [l.packed() for l in lights]
            pos = np.zeros((MAX_LIGHTS, 4), np.float32)
            col = np.zeros((MAX_LIGHTS, 4), np.float32)
            for i, (a, b) in enumerate(packed):
                pos[i], col[i] = a, b
            p["u_light_pos"].write(pos.tobytes())
            p["u_light_color"].write(col.tobytes())
        env = self._environment(lighting)
        p["u_has_env"].value = env is not None
        if env is not None:
            env.use(0)
            p["u_env"].value = 0
            p["u_env_max_lod"].value = float(self._env_levels)
            p["u_env_intensity"].value = float(lighting.environment.intensity)
            p["u_sh"].write(np.ascontiguousarray(lighting.environment.sh, dtype=np.float32).tobytes())
        else:
            self._dummy.use(0)
            p["u_env"].value = 0
        p["u_exposure"].value = float(lighting.exposure)

        for it in items:
            model_bytes, normal_bytes, mirrored = models(it.model)
            p["u_model"].write(model_bytes)
            p["u_normal_matrix"].write(normal_bytes)
            self._set_material(p, it.material)
            self._cull(not (it.material.double_sided or mirrored))
            it.mesh.vao(p).render()
        ctx.depth_func = "<"

        src = draw
        if resolve is not None:
            ctx.copy_framebuffer(resolve, draw)
            src = resolve
        if meanwhile is not None:
            flush()
            meanwhile()
        finish()  # rasterise without holding the GIL (the tracker thread runs meanwhile)
        color = np.frombuffer(src.read(viewport=(0, 0, w, h), components=4, attachment=0), np.uint8).reshape(h, w, 4)[::-1]
        normal = depth = None
        if aux:
            nd = np.frombuffer(src.read(viewport=(0, 0, w, h), components=4, attachment=1, dtype="f4"),
                               np.float32).reshape(h, w, 4)[::-1]
            if "normal" in outputs:
                normal = nd[..., :3].copy()
            if "depth" in outputs:
                a = color[..., 3] > 0
                cov = np.maximum(color[..., 3].astype(np.float32) / 255.0, 1e-6)
                depth = np.where(a, nd[..., 3] / cov, np.inf).astype(np.float32)
        if ss > 1:
            color = downsample(color, ss)
            if normal is not None:
                normal = normal.reshape(camera.height, ss, camera.width, ss, 3).mean(axis=(1, 3))
            if depth is not None:
                depth = depth[::ss, ::ss]
        return RenderResult(np.ascontiguousarray(color), normal, depth)

    def release(self) -> None:
        """Free every GL object of this renderer: framebuffers (with their renderbuffers), textures,
        the environment map and the shader programs (meshes are released by their owners).

        Call it on the thread that rendered (OpenGL contexts are per thread). The
        renderer cannot draw afterwards; calling it again does nothing.
        """
        for fbs in self._fbos.values():
            for f in fbs:
                if f is not None:
                    _release_framebuffer(f)
        self._fbos.clear()
        for tex, _ in self._textures.values():
            tex.release()
        self._textures.clear()
        for name in ("_env_tex", "_dummy", "program", "live_program", "depth_program"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.release()
                setattr(self, name, None)
        self._env_key = self._env_ref = None
        collect_garbage(self.ctx)  # objects other owners dropped without release() (gc_mode "context_gc")


def is_software(ctx) -> bool:
    """Whether ``ctx`` rasterises on the CPU (Mesa llvmpipe / softpipe / swrast).

    Anisotropic filtering is off there. With it (4x) and MSAA, Mesa 22.3 llvmpipe spent
    10-100 s in single draw calls on ordinary frames (gdb: one rasteriser thread inside the
    JIT-compiled fragment code, the other waiting at the barrier; geometry, pose and morphs
    finite and in front of the near plane). Its anisotropic sampler loops over a probe count
    derived from the UV derivatives, which degenerate on some MSAA edge pixels. With
    anisotropy 1 the same frames render in 30-140 ms; trilinear mipmaps look the same at
    avatar sizes.
    """
    name = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(k in name for k in ("llvmpipe", "softpipe", "swrast", "software"))


class _ModelMatrices:
    """Per render call: model matrix -> (model bytes, normal-matrix bytes, mirrored), computed once
    per distinct matrix object (the draw items of one avatar share theirs)."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple] = {}

    def __call__(self, model) -> tuple[bytes, bytes, bool]:
        hit = self._seen.get(id(model))
        if hit is not None and hit[0] is model:
            return hit[1]
        m = np.asarray(model, np.float64)
        nm = np.linalg.inv(m[:3, :3]).T
        res = (np.ascontiguousarray(m.T, dtype=np.float32).tobytes(),
               np.ascontiguousarray(nm.T, dtype=np.float32).tobytes(), bool(np.linalg.det(m[:3, :3]) < 0))
        self._seen[id(model)] = (model, res)
        return res


def _release_framebuffer(fb) -> None:
    """A framebuffer and the renderbuffers attached to it (releasing the framebuffer alone keeps them)."""
    for att in (*fb.color_attachments, fb.depth_attachment):
        if att is not None:
            att.release()
    fb.release()


def downsample(rgba: np.ndarray, k: int) -> np.ndarray:
    """Box-filter an (H*k, W*k, C) uint8 image down by ``k`` (supersampling resolve)."""
    h, w, c = rgba.shape
    a = rgba.reshape(h // k, k, w // k, k, c).astype(np.uint16).sum(axis=(1, 3))
    return ((a + (k * k) // 2) // (k * k)).astype(np.uint8)

"""Shading-map pass for relighting: a face G-buffer with soft shadows, image-aligned.

The portrait relighter needs, for every pixel of a (reduced-resolution) copy of
the image, the fitted face's normal, occlusion, a skin weight and how much a
key light is blocked by the face itself (nose, brows, cheeks). This pass draws
the dense fitted face mesh with an orthographic, pixel-aligned projection (the
mesh is already in image pixels) into two float targets, after a shadow-map
pass from the key light's direction (5x5 PCF: soft shadows). The lighting
itself is evaluated from these layers (``faceplay.relight.shading``).

Coordinates: vertices are image pixels at the render size (x right, y down)
with z towards the viewer (pixels); normals are in the view frame (x right,
y up, z towards the viewer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceplay.errors import RenderError
from faceplay.render.context import finish, gl_context

_VS = """
#version 330
uniform vec2 u_size;
uniform vec2 u_depth;      // z centre, z half-range (pixels)
uniform mat4 u_shadow;     // image pixels -> shadow-map clip space
in vec3 in_pos;
in vec3 in_normal;
in vec2 in_attr;           // ambient occlusion, skin weight
out vec3 v_normal;
out vec2 v_attr;
out vec3 v_shadow;
out float v_depth;
void main() {
    v_depth = in_pos.z;
    gl_Position = vec4(in_pos.x / u_size.x * 2.0 - 1.0, 1.0 - in_pos.y / u_size.y * 2.0,
                       -(in_pos.z - u_depth.x) / u_depth.y, 1.0);
    v_normal = in_normal;
    v_attr = in_attr;
    v_shadow = (u_shadow * vec4(in_pos, 1.0)).xyz * 0.5 + 0.5;
}
"""

_FS = """
#version 330
uniform sampler2D u_shadow_map;
uniform float u_use_shadow;
uniform float u_radius;     // PCF radius in shadow-map texels
uniform float u_bias;
in vec3 v_normal;
in vec2 v_attr;
in vec3 v_shadow;
in float v_depth;
layout(location = 0) out vec4 o_normal;
layout(location = 1) out vec4 o_attr;
void main() {
    float vis = 1.0;
    if (u_use_shadow > 0.5) {
        vec2 texel = 1.0 / vec2(textureSize(u_shadow_map, 0));
        float acc = 0.0;
        for (int i = -2; i <= 2; i++) {
            for (int j = -2; j <= 2; j++) {
                float d = texture(u_shadow_map, v_shadow.xy + vec2(i, j) * texel * u_radius).r;
                acc += (v_shadow.z - u_bias > d) ? 0.0 : 1.0;
            }
        }
        vis = acc / 25.0;
    }
    o_normal = vec4(normalize(v_normal), 1.0);
    o_attr = vec4(v_attr.x, vis, v_attr.y, v_depth);
}
"""

_SHADOW_VS = """
#version 330
uniform mat4 u_shadow;
in vec3 in_pos;
void main() { gl_Position = u_shadow * vec4(in_pos, 1.0); }
"""

_SHADOW_FS = """
#version 330
out vec4 o_depth;
void main() { o_depth = vec4(gl_FragCoord.z, 0.0, 0.0, 1.0); }
"""


@dataclass
class GBuffer:
    """Layers of one shading pass, all (H, W[, C]) float32 at the render size."""

    normal: np.ndarray  #: (H, W, 3) view-frame unit normals (0 where no face)
    coverage: np.ndarray  #: (H, W) 1 on the face mesh, 0 elsewhere
    ao: np.ndarray  #: (H, W) ambient occlusion 0..1
    shadow: np.ndarray  #: (H, W) key-light visibility 0..1 (1 = lit)
    skin: np.ndarray  #: (H, W) skin weight (0 on eyes, brows, lips)
    depth: np.ndarray | None = None  #: (H, W) mesh z towards the viewer (render pixels; 0 where no face)


def _basis(d: np.ndarray) -> np.ndarray:
    """Rotation whose third row is the unit vector ``d``."""
    d = d / np.linalg.norm(d)
    a = np.array([0.0, 1.0, 0.0]) if abs(d[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(a, d)
    x /= np.linalg.norm(x)
    y = np.cross(d, x)
    return np.stack([x, y, d])


class ShadingPass:
    """Reusable G-buffer + shadow-map pass on the thread's EGL context."""

    def __init__(self, shadow_size: int = 256, ctx=None) -> None:
        self.ctx = ctx or gl_context()
        try:
            self.prog = self.ctx.program(vertex_shader=_VS, fragment_shader=_FS)
            self.sprog = self.ctx.program(vertex_shader=_SHADOW_VS, fragment_shader=_SHADOW_FS)
        except Exception as exc:
            raise RenderError(f"could not compile the shading-map shaders ({exc}); an OpenGL 3.3 driver is required") from exc
        self.shadow_size = shadow_size
        self._stex = self.ctx.texture((shadow_size, shadow_size), 1, dtype="f4")
        import moderngl

        self._stex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._stex.repeat_x = self._stex.repeat_y = False
        self._sdepth = self.ctx.depth_renderbuffer((shadow_size, shadow_size))
        self._sfbo = self.ctx.framebuffer([self._stex], self._sdepth)
        self._fbos: dict[tuple[int, int], tuple] = {}
        self._vbo = None
        self._ibo = None
        self._n_idx = -1
        self._vaos: tuple | None = None

    def _fbo(self, w: int, h: int):
        f = self._fbos.get((w, h))
        if f is None:
            t0 = self.ctx.texture((w, h), 4, dtype="f4")
            t1 = self.ctx.texture((w, h), 4, dtype="f4")
            d = self.ctx.depth_renderbuffer((w, h))
            f = (self.ctx.framebuffer([t0, t1], d), t0, t1, d)
            self._fbos[(w, h)] = f
        return f

    def _upload(self, data: np.ndarray, triangles: np.ndarray) -> None:
        if self._vbo is None or self._vbo.size != data.nbytes:
            if self._vbo is not None:
                self._vbo.release()
            self._vbo = self.ctx.buffer(data.tobytes())
            self._vaos = None
        else:
            self._vbo.write(data.tobytes())
        if self._ibo is None or self._n_idx != triangles.size:
            if self._ibo is not None:
                self._ibo.release()
            self._ibo = self.ctx.buffer(np.ascontiguousarray(triangles, np.int32).tobytes())
            self._n_idx = triangles.size
            self._vaos = None
        if self._vaos is None:
            main = self.ctx.vertex_array(self.prog, [(self._vbo, "3f 3f 2f", "in_pos", "in_normal", "in_attr")], self._ibo)
            shadow = self.ctx.vertex_array(self.sprog, [(self._vbo, "3f 12x 8x", "in_pos")], self._ibo)
            self._vaos = (main, shadow)

    def render(
        self,
        size: tuple[int, int],
        meshes: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        key_direction: np.ndarray | None = None,
        softness: float = 1.0,
    ) -> GBuffer:
        """Draw face meshes into a G-buffer of ``size`` = (width, height).

        ``meshes``: per face ``(vertices (N,3) image px + z, normals (N,3), ao (N,), skin (N,), triangles (T,3))``.
        ``key_direction``: unit vector towards the key light (view frame) to cast
        soft shadows from; ``None`` disables shadows. ``softness`` scales the PCF radius.
        """
        import moderngl

        w, h = size
        fbo, t0, t1, _ = self._fbo(w, h)
        fbo.use()
        fbo.viewport = (0, 0, w, h)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.disable(moderngl.CULL_FACE)
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        for verts, normals, ao, skin, tris in meshes:
            data = np.concatenate([verts, normals, ao[:, None], skin[:, None]], axis=1).astype(np.float32)
            self._upload(np.ascontiguousarray(data), tris)
            main, shadow = self._vaos
            zc = float(verts[:, 2].mean())
            zr = float(max(np.ptp(verts[:, 2]), 1.0) * 2.0 + 10.0)
            use_shadow = key_direction is not None
            smat = np.eye(4, dtype=np.float32)
            if use_shadow:
                flip = np.array([[1, 0, 0, 0], [0, -1, 0, h], [0, 0, 1, 0], [0, 0, 0, 1]], np.float64)  # image -> view frame
                R = _basis(np.asarray(key_direction, np.float64))
                rot = np.eye(4)
                rot[:3, :3] = R
                lp = (R @ (verts.astype(np.float64) * [1, -1, 1] + [0, h, 0]).T).T
                lo, hi = lp.min(0), lp.max(0)
                c = (lo + hi) / 2
                half = (hi - lo) / 2 * 1.05 + 1e-3
                ndc = np.diag([1 / half[0], 1 / half[1], -1 / half[2], 1.0])
                ndc[:3, 3] = -c / half * [1, 1, -1]
                smat = (ndc @ rot @ flip).astype(np.float32)
                self.sprog["u_shadow"].write(smat.T.tobytes())
                self._sfbo.use()
                self._sfbo.viewport = (0, 0, self.shadow_size, self.shadow_size)
                self._sfbo.clear(1.0, 1.0, 1.0, 1.0, depth=1.0)
                shadow.render(moderngl.TRIANGLES)
                fbo.use()
                fbo.viewport = (0, 0, w, h)
                self._stex.use(0)
                # bias: ~3 % of the face depth in shadow-map depth units (no acne on grazing cheeks)
                self.prog["u_bias"].value = 0.03
                self.prog["u_radius"].value = float(1.5 * softness)
            self.prog["u_size"].value = (float(w), float(h))
            self.prog["u_depth"].value = (zc, zr)
            self.prog["u_shadow"].write(smat.T.tobytes())
            self.prog["u_shadow_map"].value = 0
            self.prog["u_use_shadow"].value = 1.0 if use_shadow else 0.0
            main.render(moderngl.TRIANGLES)
        finish()  # rasterise without holding the GIL (a tracker thread runs meanwhile)
        a = np.frombuffer(t0.read(), np.float32).reshape(h, w, 4)[::-1]
        b = np.frombuffer(t1.read(), np.float32).reshape(h, w, 4)[::-1]
        cov = a[..., 3]
        return GBuffer(
            normal=np.ascontiguousarray(a[..., :3]),
            coverage=np.ascontiguousarray(cov),
            ao=np.where(cov > 0, b[..., 0], 1.0).astype(np.float32),
            shadow=np.where(cov > 0, b[..., 1], 1.0).astype(np.float32),
            skin=np.ascontiguousarray(b[..., 2]),
            depth=np.where(cov > 0, b[..., 3], 0.0).astype(np.float32),
        )

    def release(self) -> None:
        """Free the GL objects."""
        for f in self._fbos.values():
            for o in f:
                o.release()
        self._fbos.clear()
        for o in (self._vbo, self._ibo, self._sfbo, self._stex, self._sdepth):
            if o is not None:
                o.release()

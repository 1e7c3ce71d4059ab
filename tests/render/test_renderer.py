"""The shared renderer on real OpenGL (Mesa llvmpipe through EGL on a CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.render import Camera, DrawItem, Lighting, Material, MeshData, Renderer, alpha_over, unpremultiply
from faceplay.render.gltf import GltfError, read_glb, write_glb


def sphere(r=5.0, n=40) -> MeshData:
    th = np.linspace(0, np.pi, n)
    ph = np.linspace(0, 2 * np.pi, 2 * n)
    T, P = np.meshgrid(th, ph, indexing="ij")
    pos = np.stack([r * np.sin(T) * np.sin(P), r * np.cos(T), r * np.sin(T) * np.cos(P)], -1).reshape(-1, 3)
    uv = np.stack([P / (2 * np.pi), T / np.pi], -1).reshape(-1, 2)
    idx = []
    for i in range(n - 1):
        for j in range(2 * n - 1):
            a = i * 2 * n + j
            b = a + 2 * n
            idx += [a, b, a + 1, a + 1, b, b + 1]
    return MeshData(pos, np.array(idx), uvs=uv)


@pytest.fixture(scope="module")
def renderer():
    return Renderer(samples=4)


def test_sphere_coverage_depth_and_normals(renderer):
    mesh = renderer.upload(sphere(5.0))
    cam = Camera.orbit(128, 128, distance=40.0, fovy_deg=30.0)
    out = renderer.render([DrawItem(mesh, Material(base_color=(0.8, 0.2, 0.2, 1)))], cam, Lighting.studio(),
                          outputs=("color", "depth", "normal"))
    assert out.color.shape == (128, 128, 4) and out.color.dtype == np.uint8
    a = out.alpha
    # projected radius: f * r / sqrt(d^2 - r^2) in pixels
    f = 64 / np.tan(np.radians(15))
    r_px = f * 5 / np.sqrt(40**2 - 25)
    assert abs(a.sum() - np.pi * r_px**2) / (np.pi * r_px**2) < 0.05
    assert a[0, 0] == 0 and a[64, 64] == 1
    assert np.isinf(out.depth[0, 0]) and abs(out.depth[64, 64] - 35.0) < 0.3
    assert out.normal[64, 64] @ np.array([0, 0, 1.0]) > 0.98
    # anti-aliased edge: partially covered pixels exist
    assert ((a > 0.05) & (a < 0.95)).sum() > 20


def test_crop_renders_exactly_that_region(renderer):
    mesh = renderer.upload(sphere(5.0))
    cam = Camera.orbit(160, 120, distance=40.0, fovy_deg=30.0)
    items = [DrawItem(mesh, Material(base_color=(0.2, 0.6, 0.9, 1), roughness=0.4))]
    full = renderer.render(items, cam, samples=0).color
    part = renderer.render(items, cam.crop(50, 30, 60, 50), samples=0).color
    diff = np.abs(full[30:80, 50:110].astype(int) - part.astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 12


def test_materials_look_different(renderer):
    mesh = renderer.upload(sphere(5.0))
    cam = Camera.orbit(96, 96, distance=40.0, fovy_deg=30.0)
    light = Lighting.studio()
    glossy = renderer.render([DrawItem(mesh, Material(base_color=(0.9, 0.9, 0.9, 1), metallic=1.0, roughness=0.15))], cam, light).color
    matte = renderer.render([DrawItem(mesh, Material(base_color=(0.9, 0.9, 0.9, 1), metallic=0.0, roughness=0.95))], cam, light).color
    inside = glossy[..., 3] == 255
    # a polished metal reflects the environment: far more contrast than a rough dielectric
    assert glossy[inside][:, :3].std() > 1.5 * matte[inside][:, :3].std()


def test_morph_targets_move_vertices(renderer):
    base = sphere(5.0)
    d = np.zeros((1, base.n_vertices, 3), np.float32)
    d[0, base.positions[:, 0] > 0, 0] = 4.0  # stretch the right half
    m = MeshData(base.positions, base.indices, uvs=base.uvs, morph_positions=d, morph_names=["stretch"])
    g = renderer.upload(m)
    cam = Camera.orbit(128, 96, distance=50.0, fovy_deg=30.0)
    g.set_weights(np.array([0.0]))
    a0 = renderer.render([DrawItem(g, Material())], cam).alpha.sum()
    g.set_weights(np.array([1.0]))
    a1 = renderer.render([DrawItem(g, Material())], cam).alpha.sum()
    assert a1 > a0 * 1.2


def test_alpha_over_and_unpremultiply():
    dst = np.full((4, 4, 3), 100, np.uint8)
    src = np.zeros((2, 2, 4), np.uint8)
    src[0, 0] = (128, 0, 0, 128)  # premultiplied half-transparent red
    out = alpha_over(dst, src, 3, 3)  # clipped to one pixel: src[0, 0] lands on (3, 3)
    assert out[3, 3].tolist() == [178, 50, 50] and out[0, 0].tolist() == [100, 100, 100]
    assert (alpha_over(dst, src, 5, 5) == dst).all()  # entirely outside
    out = alpha_over(dst, src, 1, 1)
    assert out[1, 1].tolist() == [178, 50, 50]
    assert unpremultiply(src)[0, 0].tolist() == [255, 0, 0, 128]


def test_glb_round_trip_with_sparse_targets(tmp_path):
    s = sphere(3.0, 12)
    d = np.zeros((2, s.n_vertices, 3), np.float32)
    d[0, :5] = [0, 1, 0]
    d[1] = 0.25
    m = MeshData(s.positions, s.indices, uvs=s.uvs, morph_positions=d, morph_normals=np.zeros_like(d), morph_names=["a", "b"], name="ball")
    tex = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    path = write_glb(tmp_path / "ball.glb", [(m, Material(name="m", base_color_texture=tex, clearcoat=0.5))], ["a", "b"])
    asset = read_glb(path)
    p = asset.primitives[0]
    assert asset.morph_names == ["a", "b"] and p.mesh.name == "ball"
    np.testing.assert_allclose(p.mesh.positions, s.positions, atol=1e-6)
    np.testing.assert_allclose(p.mesh.morph_positions, d, atol=1e-6)
    assert np.array_equal(p.material.base_color_texture, tex) and p.material.clearcoat == 0.5
    pygltflib = pytest.importorskip("pygltflib")
    g = pygltflib.GLTF2().load(str(path))
    assert len(g.meshes[0].primitives[0].targets) == 2 and g.meshes[0].extras["targetNames"] == ["a", "b"]


def test_not_a_glb(tmp_path):
    bad = tmp_path / "x.glb"
    bad.write_bytes(b"hello world, not a model at all")
    with pytest.raises(GltfError, match="not a glTF binary"):
        read_glb(bad)


def test_no_anisotropic_filtering_on_a_software_rasteriser():
    """llvmpipe's anisotropic sampler stalled single draw calls for 10-100 s with MSAA (issue 13)."""
    from faceplay.render.renderer import Renderer, is_software

    r = Renderer(samples=4)
    tex = r._texture(np.full((8, 8, 3), 128, np.uint8))
    if is_software(r.ctx):
        assert r.anisotropy == 1.0 and tex.anisotropy == 1.0
    else:
        assert r.anisotropy == 4.0
    r.release()

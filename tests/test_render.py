"""The differentiable rasterizer against scenes whose pixels are known analytically."""

from __future__ import annotations

import math

import pytest
import torch

from deocclude.reconstruct import render
from deocclude.reconstruct.render import interpolate, rasterize, render_mesh, sample_texture, sh_basis, sh_shading

pytestmark = pytest.mark.usefixtures("one_torch_thread")


QUAD_FACES = torch.tensor([[0, 3, 2], [0, 2, 1]])  # counter-clockwise seen from the camera


def quad(x0: float, y0: float, x1: float, y1: float, depth: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    """Screen-space axis-aligned quad (1, 4, 3): corners (x0,y0), (x1,y0), (x1,y1), (x0,y1)."""
    return torch.tensor([[[x0, y0, depth], [x1, y0, depth], [x1, y1, depth], [x0, y1, depth]]], dtype=dtype)


def test_quad_covers_exactly_the_pixels_whose_centres_are_inside() -> None:
    rast = rasterize(quad(10.2, 20.0, 30.0, 40.7), QUAD_FACES, (64, 48))
    mask = rast.mask[0]
    # centres j+0.5 in [10.2, 30] -> j = 10..29; i+0.5 in [20, 40.7] -> i = 20..40
    expected = torch.zeros(64, 48)
    expected[20:41, 10:30] = 1
    assert torch.equal(mask, expected)
    assert set(rast.triangle_id.unique().tolist()) == {-1, 0, 1}
    assert torch.isinf(rast.depth[0, 0, 0]) and torch.allclose(rast.depth[0, 30, 15], torch.tensor(1.0))


def test_interpolating_a_linear_attribute_gives_its_value_at_pixel_centres() -> None:
    verts = quad(3.0, 5.0, 27.0, 29.0)
    rast = rasterize(verts, QUAD_FACES, 32)
    values = interpolate(verts[0, :, :2], rast, QUAD_FACES)[0]  # attribute = (u, v)
    ii, jj = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    inside = rast.mask[0] > 0
    assert torch.allclose(values[..., 0][inside], (jj + 0.5)[inside], atol=1e-4)
    assert torch.allclose(values[..., 1][inside], (ii + 0.5)[inside], atol=1e-4)
    assert torch.all(values[~inside] == 0)


def test_perspective_correct_interpolation_recovers_the_3d_point_on_a_tilted_plane() -> None:
    # A plane tilted in depth, seen by a pinhole camera (focal 40 px, centre 16).
    cam = torch.tensor(
        [[[-1.0, -1.0, -4.0], [1.0, -1.0, -6.0], [1.0, 1.0, -6.0], [-1.0, 1.0, -4.0]]], dtype=torch.float64
    )
    depth = -cam[..., 2]
    screen = torch.stack([16 + 40 * cam[..., 0] / depth, 16 - 40 * cam[..., 1] / depth, depth], dim=-1)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    rast = rasterize(screen, faces, 32)
    point = interpolate(cam, rast, faces)[0]
    inside = rast.mask[0] > 0
    assert inside.sum() > 100
    ii, jj = torch.meshgrid(
        torch.arange(32.0, dtype=torch.float64), torch.arange(32.0, dtype=torch.float64), indexing="ij"
    )
    d = -point[..., 2]
    u = 16 + 40 * point[..., 0] / d
    v = 16 - 40 * point[..., 1] / d
    assert torch.allclose(u[inside], jj[inside] + 0.5, atol=1e-6)
    assert torch.allclose(v[inside], ii[inside] + 0.5, atol=1e-6)
    assert torch.allclose(rast.depth[0][inside], d[inside], atol=1e-6)


def test_depth_test_keeps_the_nearer_surface_whatever_the_order() -> None:
    near = quad(0, 0, 20, 20, depth=2.0)
    far = quad(10, 10, 30, 30, depth=5.0)
    for first, second, near_first in ((near, far, True), (far, near, False)):
        verts = torch.cat([first, second], dim=1)
        faces = torch.cat([QUAD_FACES, QUAD_FACES + 4])
        rast = rasterize(verts, faces, 32)
        tid = rast.triangle_id[0, 15, 15].item()  # overlap region
        assert (tid < 2) == near_first
        assert rast.depth[0, 15, 15].item() == pytest.approx(2.0)
        assert rast.depth[0, 25, 25].item() == pytest.approx(5.0)


def test_back_facing_triangles_are_culled_unless_asked() -> None:
    back = QUAD_FACES.flip(1)
    assert rasterize(quad(2, 2, 14, 14), back, 16).mask.sum() == 0
    assert rasterize(quad(2, 2, 14, 14), back, 16, cull_backfaces=False).mask.sum() == 144
    # a nearer back-facing quad does not hide a front-facing one behind it
    verts = torch.cat([quad(2, 2, 14, 14, depth=1.0), quad(0, 0, 16, 16, depth=3.0)], dim=1)
    faces = torch.cat([back, QUAD_FACES + 4])
    rast = rasterize(verts, faces, 16)
    assert rast.mask.sum() == 256
    assert torch.allclose(rast.depth[rast.mask > 0], torch.tensor(3.0))


def test_empty_scenes_render_nothing_and_keep_gradients_defined() -> None:
    verts = quad(-50, -50, -10, -10).requires_grad_(True)  # off screen
    behind = quad(2, 2, 10, 10, depth=-1.0)  # behind the camera
    for v, f in ((verts, QUAD_FACES), (behind, QUAD_FACES), (verts, torch.zeros(0, 3, dtype=torch.long))):
        rast = rasterize(v, f, 16)
        assert rast.mask.sum() == 0
        out = interpolate(torch.ones(4, 2), rast, f) if len(f) else rast.barycentrics
        assert out.abs().sum() == 0
    rast = rasterize(verts, QUAD_FACES, 16)
    rast.barycentrics.sum().backward()
    assert verts.grad is not None and torch.all(verts.grad == 0)


def test_batches_and_chunking_agree_with_single_images(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(0)
    verts = torch.rand(3, 30, 3, generator=gen) * torch.tensor([40.0, 40.0, 2.0]) + torch.tensor([0.0, 0.0, 1.0])
    faces = torch.randint(0, 30, (25, 3), generator=gen)
    full = rasterize(verts, faces, 40, cull_backfaces=False)
    monkeypatch.setattr(render, "_MAX_CANDIDATES", 50)
    chunked = rasterize(verts, faces, 40, cull_backfaces=False)
    assert torch.equal(full.triangle_id, chunked.triangle_id)
    for b in range(3):
        single = rasterize(verts[b:b + 1], faces, 40, cull_backfaces=False)
        assert torch.equal(single.triangle_id[0], full.triangle_id[b])


def _real_sh(d: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics Y_00..Y_22 (standard constants) in our basis order."""
    x, y, z = d.unbind(-1)
    return torch.stack([
        torch.full_like(x, 0.282095), 0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z, 0.546274 * (x * x - y * y),
    ], dim=-1)


def uv_sphere(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit sphere vertices (V, 3) and outward counter-clockwise faces."""
    th = torch.linspace(0, math.pi, n + 1, dtype=torch.float64)
    ph = torch.linspace(0, 2 * math.pi, 2 * n + 1, dtype=torch.float64)[:-1]
    t, p = torch.meshgrid(th, ph, indexing="ij")
    verts = torch.stack([t.sin() * p.cos(), t.cos(), t.sin() * p.sin()], -1).reshape(-1, 3)
    m = 2 * n
    faces = []
    for i in range(n):
        for j in range(m):
            a, b = i * m + j, i * m + (j + 1) % m
            c, d = (i + 1) * m + (j + 1) % m, (i + 1) * m + j
            faces += [[a, b, c], [a, c, d]]
    faces = torch.tensor(faces)
    # make every face wind counter-clockwise seen from outside
    v = verts[faces]
    normal = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1)
    outward = (normal * v.mean(1)).sum(-1) > 0
    faces[~outward] = faces[~outward][:, [0, 2, 1]]
    return verts, faces


def test_unit_sphere_under_a_directional_sh_light_matches_lambert() -> None:
    verts, faces = uv_sphere()
    size, radius = 64, 28.0
    cam = verts[None].clone()
    cam[..., 2] -= 0.0
    screen = torch.stack([size / 2 + radius * cam[..., 0], size / 2 - radius * cam[..., 1], 10.0 - cam[..., 2]], -1)
    direction = torch.tensor([0.3, 0.5, 0.81], dtype=torch.float64)
    direction = direction / direction.norm()
    # radiance of a unit directional light, projected on SH, in our normalisation (pi * Y_0 = 1 for band 0)
    coeffs = math.pi * 0.5 / math.sqrt(math.pi) * _real_sh(direction)
    light = coeffs[None, :, None].expand(1, 9, 3)
    white = torch.ones(1, 3, 4, 4, dtype=torch.float64)
    uv = torch.zeros(verts.shape[0], 2, dtype=torch.float64)
    out = render_mesh(cam, screen, faces, uv, white, light, size)
    img = out.image[0, 0]
    mask = out.mask[0, 0] > 0
    ii, jj = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    nx, ny = (jj + 0.5 - size / 2) / radius, -(ii + 0.5 - size / 2) / radius
    r2 = nx**2 + ny**2
    inner = mask & (r2 < 0.9**2)
    n = torch.stack([nx, ny, (1 - r2).clamp(min=0).sqrt()], -1)
    lambert = (n @ direction).clamp(min=0)
    # exact 9-term SH irradiance: sum_l A_l sum_m Y_lm(d) Y_lm(n), A = (pi, 2pi/3, pi/4)
    band = torch.tensor([math.pi] + [2 * math.pi / 3] * 3 + [math.pi / 4] * 5, dtype=torch.float64)
    irradiance = (_real_sh(n) * band * _real_sh(direction)).sum(-1)
    assert (img[inner] - irradiance[inner]).abs().max() < 0.01
    assert (img[inner] - irradiance[inner]).abs().mean() < 0.002
    # ... which approximates the clamped cosine to within ~0.1 (Ramamoorthi & Hanrahan 2001)
    assert (img[inner] - lambert[inner]).abs().max() < 0.1
    # the disc covers pi r^2 pixels
    assert abs(mask.sum().item() - math.pi * radius**2) < 2 * math.pi * radius
    # uniform light (1, 0, ..., 0) leaves the albedo unchanged
    flat = torch.zeros(1, 9, 3, dtype=torch.float64)
    flat[:, 0] = 1.0
    tex = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    out = render_mesh(cam, screen, faces, uv, tex, flat, size)
    assert torch.allclose(out.image[0][:, mask], torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)[:, None])
    assert torch.all(out.image[0][:, ~mask] == 0)


def test_gradcheck_interpolate_shading_and_texture() -> None:
    verts = torch.tensor([[[1.3, 1.1, 2.0], [7.2, 2.2, 3.0], [6.1, 7.4, 2.5], [0.7, 6.6, 2.2]]], dtype=torch.float64)
    faces = torch.tensor([[0, 3, 2], [0, 2, 1]])
    attrs = torch.rand(4, 2, dtype=torch.float64)
    tid = rasterize(verts, faces, 8).triangle_id

    def interp(v, a):
        rast = rasterize(v, faces, 8)
        assert torch.equal(rast.triangle_id, tid)  # perturbations must not change visibility
        return interpolate(a, rast, faces)

    assert torch.autograd.gradcheck(interp, (verts.clone().requires_grad_(True), attrs.clone().requires_grad_(True)))
    normals = torch.nn.functional.normalize(torch.rand(1, 5, 3, dtype=torch.float64) - 0.5, dim=-1)
    light = torch.rand(1, 9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sh_shading, (normals.requires_grad_(True), light))
    tex = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    uv = torch.rand(1, 3, 3, 2, dtype=torch.float64) * 0.8 + 0.1
    assert torch.autograd.gradcheck(sample_texture, (tex, uv.requires_grad_(True)))


def test_gradients_reach_vertices_texture_and_light_through_a_full_render() -> None:
    verts, faces = uv_sphere(12)
    verts = verts.float()[None].requires_grad_(True)
    screen = torch.stack([16 + 12 * verts[..., 0], 16 - 12 * verts[..., 1], 10 - verts[..., 2]], -1)
    uv = (verts[0, :, :2].detach() + 1) / 2
    tex = torch.rand(1, 3, 8, 8, requires_grad=True)
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 0.8
    light[:, 2] = 0.3
    light.requires_grad_(True)
    out = render_mesh(verts, screen, faces, uv, tex, light, 32)
    out.image.square().sum().backward()
    for t in (verts, tex, light):
        assert t.grad is not None and t.grad.abs().sum() > 0 and torch.isfinite(t.grad).all()


def test_sh_basis_constant_band_is_one() -> None:
    n = torch.nn.functional.normalize(torch.randn(10, 3), dim=-1)
    assert torch.allclose(sh_basis(n)[:, 0], torch.ones(10))

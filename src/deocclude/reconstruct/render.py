"""A small differentiable rasterizer in plain PyTorch, split like nvdiffrast.

``rasterize`` answers, for every pixel, *which* triangle is nearest (depth test, no
gradient: visibility is piecewise constant); its barycentrics are then recomputed with
autograd from the screen-space vertex positions, so ``interpolate`` is differentiable with
respect to vertex positions and attributes. Shading is Lambertian under 9-band spherical
harmonics lighting per colour channel; albedo comes from a UV texture via ``grid_sample``.

Conventions (all batched, any device):
- screen vertices ``(B, V, 3)`` = (u, v, depth): u to the right and v down in pixels, pixel
  (i, j) covers [j, j+1) x [i, i+1) so its centre is (j + 0.5, i + 0.5); depth > 0 is the
  distance along the viewing axis (smaller = nearer).
- camera space: X right, Y up, Z towards the viewer (OpenGL); a triangle is front-facing when
  its vertices run counter-clockwise seen from the camera (normal towards the camera).
- masks are float, 1 = covered by the mesh.

Why not pixel loops per triangle: Python loops over ~900 triangles are far too slow. Here
every (triangle, pixel-in-its-bounding-box) pair is enumerated with tensor ops at once, and
the z-buffer is a ``scatter_reduce('amin')`` over depth; a face at N = 128 gives a few
hundred thousand candidate pairs per batch, which is cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Candidate (triangle, pixel) pairs processed at once; bounds memory when a projected mesh
# covers the whole screen (e.g. a regressor's wild early guess).
_MAX_CANDIDATES = 1 << 22


@dataclass(frozen=True)
class Rasterization:
    """Per-pixel result of :func:`rasterize`.

    triangle_id: (B, H, W) long, index into ``faces``, -1 where no triangle covers the pixel.
    barycentrics: (B, H, W, 3) perspective-correct, differentiable w.r.t. the vertices; 0 on
        background.
    depth: (B, H, W) depth of the visible surface, +inf on background (no gradient).
    """

    triangle_id: torch.Tensor
    barycentrics: torch.Tensor
    depth: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) float coverage, 1 where a triangle is visible."""
        return (self.triangle_id >= 0).to(self.barycentrics.dtype)


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _edge(ax, ay, bx, by, px, py):
    """Twice the signed area of (a, b, p); positive when p is left of a->b in y-down pixels."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _candidates(tri: torch.Tensor, valid: torch.Tensor, lo: int, hi: int, height: int, width: int,
                cull_backfaces: bool):
    """Enumerate (triangle, pixel) pairs for flat triangles ``lo:hi`` and keep those inside.

    ``tri`` is (B*F, 3, 3) screen vertices. Returns flat triangle index, pixel row, pixel
    column and depth for every covered pair. Per triangle, the barycentrics and 1/depth are
    affine functions of the pixel position; their 9 coefficients are computed once and
    gathered once per candidate (cheaper than gathering the vertices).
    """
    t = tri[lo:hi]
    x0, y0, z0 = t[:, 0, 0], t[:, 0, 1], t[:, 0, 2]
    x1, y1, z1 = t[:, 1, 0], t[:, 1, 1], t[:, 1, 2]
    x2, y2, z2 = t[:, 2, 0], t[:, 2, 1], t[:, 2, 2]
    area = _edge(x0, y0, x1, y1, x2, y2)
    # Counter-clockwise seen from the camera is clockwise in y-down pixels: area < 0.
    ok = valid[lo:hi] & ((area < -1e-12) if cull_backfaces else (area.abs() > 1e-12))
    inv_area = 1.0 / torch.where(ok, area, torch.ones_like(area))
    # w0 = a0 x + b0 y + c0 (edge 1->2), w1 likewise (edge 2->0), 1/z = ai x + bi y + ci
    a0, b0 = (y1 - y2) * inv_area, (x2 - x1) * inv_area
    c0 = -(a0 * x1 + b0 * y1)
    a1, b1 = (y2 - y0) * inv_area, (x0 - x2) * inv_area
    c1 = -(a1 * x2 + b1 * y2)
    d0, d1, d2 = 1.0 / z0 - 1.0 / z2, 1.0 / z1 - 1.0 / z2, 1.0 / z2
    coef = torch.stack([a0, b0, c0, a1, b1, c1, a0 * d0 + a1 * d1, b0 * d0 + b1 * d1, c0 * d0 + c1 * d1 + d2], 1)
    x, y = t[..., 0], t[..., 1]
    jmin = torch.ceil(x.min(1).values - 0.5).clamp(0, width).long()
    jmax = torch.floor(x.max(1).values - 0.5).clamp(-1, width - 1).long()
    imin = torch.ceil(y.min(1).values - 0.5).clamp(0, height).long()
    imax = torch.floor(y.max(1).values - 0.5).clamp(-1, height - 1).long()
    nx = (jmax - jmin + 1).clamp(min=0)
    count = torch.where(ok, nx * (imax - imin + 1).clamp(min=0), torch.zeros_like(nx))
    local_tri = torch.repeat_interleave(torch.arange(hi - lo, device=tri.device), count)
    start = torch.cumsum(count, 0) - count
    ints = torch.stack([jmin, imin, nx, start], 1)[local_tri]  # one gather for the integers
    k = torch.arange(local_tri.numel(), device=tri.device) - ints[:, 3]
    pj = ints[:, 0] + k % ints[:, 2]
    pi = ints[:, 1] + k // ints[:, 2]
    px = pj.to(tri.dtype) + 0.5
    py = pi.to(tri.dtype) + 0.5
    c = coef[local_tri]  # one gather for the floats
    w0 = c[:, 0] * px + c[:, 1] * py + c[:, 2]
    w1 = c[:, 3] * px + c[:, 4] * py + c[:, 5]
    inside = (w0 >= 0) & (w1 >= 0) & (w0 + w1 <= 1)
    keep = inside.nonzero(as_tuple=True)[0]
    inv_z = c[keep, 6] * px[keep] + c[keep, 7] * py[keep] + c[keep, 8]  # 1/depth is affine in screen space
    return local_tri[keep] + lo, pi[keep], pj[keep], 1.0 / inv_z


@torch.no_grad()
def _visible_triangles(verts: torch.Tensor, faces: torch.Tensor, height: int, width: int,
                       cull_backfaces: bool, near: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Z-buffer: (B, H, W) nearest triangle id (-1 = none) and its depth (+inf = none)."""
    batch, n_faces = verts.shape[0], faces.shape[0]
    tri = verts[:, faces].reshape(batch * n_faces, 3, 3)  # (B*F, 3, 3)
    finite = torch.isfinite(tri).all(dim=(1, 2))
    valid = finite & (tri[..., 2] > near).all(dim=1)
    tri = torch.where(finite[:, None, None], tri, torch.zeros_like(tri))
    n_pix = height * width
    zbuf = torch.full((batch * n_pix,), math.inf, device=verts.device, dtype=verts.dtype)
    tri_id = torch.full((batch * n_pix,), -1, device=verts.device, dtype=torch.long)

    # Split the triangles into chunks whose bounding boxes hold at most _MAX_CANDIDATES pixels.
    x, y = tri[..., 0], tri[..., 1]
    bw = (x.max(1).values.clamp(0, width) - x.min(1).values.clamp(0, width) + 1).clamp(min=0)
    bh = (y.max(1).values.clamp(0, height) - y.min(1).values.clamp(0, height) + 1).clamp(min=0)
    cost = torch.where(valid, bw * bh, torch.zeros_like(bw)).cumsum(0)
    bounds = [0]
    while bounds[-1] < tri.shape[0]:
        base = cost[bounds[-1] - 1] if bounds[-1] > 0 else cost.new_zeros(())
        nxt = int(torch.searchsorted(cost, base + _MAX_CANDIDATES, right=True))
        bounds.append(max(nxt, bounds[-1] + 1))
    chunks = list(zip(bounds[:-1], bounds[1:]))

    def run(lo: int, hi: int):
        flat_tri, pi, pj, depth = _candidates(tri, valid, lo, hi, height, width, cull_backfaces)
        key = (flat_tri // n_faces) * n_pix + pi * width + pj
        return flat_tri % n_faces, key, depth

    cached = [run(lo, hi) for lo, hi in chunks] if len(chunks) == 1 else None
    for c, (lo, hi) in enumerate(chunks):
        _, key, depth = cached[c] if cached else run(lo, hi)
        zbuf.scatter_reduce_(0, key, depth, reduce="amin")
    for c, (lo, hi) in enumerate(chunks):
        face, key, depth = cached[c] if cached else run(lo, hi)
        win = depth <= zbuf[key]
        tri_id.scatter_reduce_(0, key[win], face[win], reduce="amax")
    return tri_id.view(batch, height, width), zbuf.view(batch, height, width)


def rasterize(verts_screen: torch.Tensor, faces: torch.Tensor, size: int | tuple[int, int],
              cull_backfaces: bool = True, near: float = 1e-6) -> Rasterization:
    """Rasterize triangles given in screen space.

    verts_screen: (B, V, 3) (u px, v px, depth > 0). faces: (F, 3) long. size: N or (H, W).
    Back-facing triangles (clockwise seen from the camera) are skipped when ``cull_backfaces``;
    triangles with a vertex at depth <= ``near`` or non-finite coordinates are skipped.
    The barycentrics are perspective-correct and carry gradients to ``verts_screen``.
    """
    if verts_screen.ndim != 3 or verts_screen.shape[-1] != 3:
        raise ValueError(f"verts_screen must be (B, V, 3), got {tuple(verts_screen.shape)}")
    height, width = _size_hw(size)
    faces = faces.to(device=verts_screen.device, dtype=torch.long)
    tri_id, depth = _visible_triangles(verts_screen.detach(), faces, height, width, cull_backfaces, near)
    bary = _barycentrics(verts_screen, faces, tri_id)
    return Rasterization(triangle_id=tri_id, barycentrics=bary, depth=depth)


def _barycentrics(verts: torch.Tensor, faces: torch.Tensor, tri_id: torch.Tensor) -> torch.Tensor:
    """Perspective-correct barycentrics of each pixel centre in its triangle, with autograd."""
    batch, height, width = tri_id.shape
    bi, pi, pj = (tri_id >= 0).nonzero(as_tuple=True)
    out = verts.new_zeros(batch, height, width, 3)
    if bi.numel() == 0:
        return out + 0.0 * verts.sum()  # keep the graph connected for empty scenes
    idx = faces[tri_id[bi, pi, pj]]  # (K, 3)
    v = verts[bi[:, None], idx]  # (K, 3, 3)
    px = pj.to(verts.dtype) + 0.5
    py = pi.to(verts.dtype) + 0.5
    x0, y0 = v[:, 0, 0], v[:, 0, 1]
    x1, y1 = v[:, 1, 0], v[:, 1, 1]
    x2, y2 = v[:, 2, 0], v[:, 2, 1]
    area = _edge(x0, y0, x1, y1, x2, y2)
    l0 = _edge(x1, y1, x2, y2, px, py) / area
    l1 = _edge(x2, y2, x0, y0, px, py) / area
    l2 = 1.0 - l0 - l1
    w = torch.stack([l0, l1, l2], dim=1) / v[:, :, 2]  # divide by depth: perspective correction
    w = w / w.sum(dim=1, keepdim=True)
    return out.index_put((bi, pi, pj), w)


def interpolate(attributes: torch.Tensor, rast: Rasterization, faces: torch.Tensor) -> torch.Tensor:
    """Interpolate per-vertex attributes (V, C) or (B, V, C) to pixels: (B, H, W, C).

    Background pixels get 0. Differentiable w.r.t. the attributes and, through the
    barycentrics, the vertex positions that were rasterized.
    """
    tri_id, bary = rast.triangle_id, rast.barycentrics
    batch = tri_id.shape[0]
    if attributes.ndim == 2:
        attributes = attributes.unsqueeze(0).expand(batch, -1, -1)
    faces = faces.to(device=attributes.device, dtype=torch.long)
    vidx = faces[tri_id.clamp(min=0)]  # (B, H, W, 3)
    n_ch = attributes.shape[-1]
    flat = vidx.reshape(batch, -1, 1).expand(-1, -1, n_ch)
    gathered = torch.gather(attributes, 1, flat).reshape(*vidx.shape, n_ch)  # (B, H, W, 3, C)
    return (gathered * bary.unsqueeze(-1)).sum(dim=3)


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals (B, V, 3) of a counter-clockwise-outward mesh."""
    faces = faces.to(device=verts.device, dtype=torch.long)
    v0, v1, v2 = verts[:, faces[:, 0]], verts[:, faces[:, 1]], verts[:, faces[:, 2]]
    face_n = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)  # length = 2 * area
    normals = torch.zeros_like(verts)
    for k in range(3):
        normals = normals.index_add(1, faces[:, k], face_n)
    return F.normalize(normals, dim=-1, eps=1e-12)


# Lambertian SH irradiance (Ramamoorthi & Hanrahan 2001): real SH basis Y_k times the
# clamped-cosine band factors (pi, 2pi/3, pi/4), divided by pi * Y_0 so the constant band is
# exactly 1: light = (1, 0, ..., 0) means "uniform white light, shading 1 everywhere".
_Y0 = 0.5 / math.sqrt(math.pi)
_Y1 = math.sqrt(3.0 / (4 * math.pi))
_Y2 = 0.5 * math.sqrt(15.0 / math.pi)
_Y20 = 0.25 * math.sqrt(5.0 / math.pi)
_A1 = (2.0 / 3.0) / _Y0  # band-1 factor (2pi/3) / (pi * Y0)
_A2 = 0.25 / _Y0  # band-2 factor (pi/4) / (pi * Y0)
SH_BASIS_SCALE = (1.0, _A1 * _Y1, _A1 * _Y1, _A1 * _Y1, _A2 * _Y2, _A2 * _Y2, _A2 * _Y20, _A2 * _Y2, 0.5 * _A2 * _Y2)


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """The 9 irradiance basis functions H_k(n), shape (..., 9), for unit normals (..., 3).

    Order: 1, y, z, x, xy, yz, 3z^2 - 1, xz, x^2 - y^2 (each times its constant), so the
    shading of a normal n under light L (9, 3) is ``sh_basis(n) @ L``.
    """
    x, y, z = normals.unbind(-1)
    terms = [torch.ones_like(x), y, z, x, x * y, y * z, 3.0 * z * z - 1.0, x * z, x * x - y * y]
    scale = torch.tensor(SH_BASIS_SCALE, dtype=normals.dtype, device=normals.device)
    return torch.stack(terms, dim=-1) * scale


def sh_shading(normals: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    """Shading (B, ..., 3) of normals (B, ..., 3) under per-image light (B, 9, 3)."""
    basis = sh_basis(normals)
    flat = basis.reshape(basis.shape[0], -1, 9)
    return torch.bmm(flat, light).reshape(*basis.shape[:-1], 3)


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of textures (B, C, T, T) at uv (B, H, W, 2) in [0, 1]: (B, H, W, C).

    u runs left to right and v top to bottom of the texture image.
    """
    grid = uv * 2.0 - 1.0
    out = F.grid_sample(texture, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.permute(0, 2, 3, 1)


@dataclass(frozen=True)
class Shaded:
    """Output of :func:`render_mesh`: image (B, 3, H, W) in [0, 1]-ish, mask (B, 1, H, W)."""

    image: torch.Tensor
    mask: torch.Tensor
    rast: Rasterization


def render_mesh(verts_camera: torch.Tensor, verts_screen: torch.Tensor, faces: torch.Tensor,
                uv: torch.Tensor, texture: torch.Tensor, light: torch.Tensor,
                size: int | tuple[int, int], background: float = 0.0) -> Shaded:
    """Render a textured Lambertian mesh under SH light.

    verts_camera (B, V, 3) give the normals (camera space, Z towards the viewer);
    verts_screen (B, V, 3) the pixel positions and depths; uv (V, 2) or (B, V, 2);
    texture (B, 3, T, T) albedo; light (B, 9, 3).
    """
    rast = rasterize(verts_screen, faces, size)
    mask = rast.mask.unsqueeze(-1)
    normals = vertex_normals(verts_camera, faces)
    uv = uv.to(normals.dtype)
    uv = uv.unsqueeze(0).expand(normals.shape[0], -1, -1) if uv.ndim == 2 else uv
    attrs = interpolate(torch.cat([normals, uv], dim=-1), rast, faces)  # one pass for both
    shading = sh_shading(F.normalize(attrs[..., :3], dim=-1, eps=1e-12), light)
    albedo = sample_texture(texture, attrs[..., 3:])
    image = albedo * shading * mask + background * (1.0 - mask)
    return Shaded(image=image.permute(0, 3, 1, 2), mask=mask.permute(0, 3, 1, 2), rast=rast)

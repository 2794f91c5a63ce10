"""Build our face model from the UTKFace training split (``deocclude build-face-model``).

Steps (docs/design.md §3):
1. Shape: the train faces' 3-D landmarks, similarity-Procrustes aligned, PCA -> mean + K
   components with std-devs.
2. Topology: MediaPipe's tessellation + the eye and mouth holes closed by ear clipping, so
   M_R is the whole face surface like the data's mesh masks; triangles wound
   counter-clockwise seen from the front; UVs from a cylindrical projection of the
   mirror-symmetrised mean (so mirroring a texture is a horizontal flip).
3. Camera: focal length and default translation such that x = 0 projects the mean face onto
   the canonical landmark template.
4. Albedo: every clean train face is fitted (pose + shape), unwrapped into UV by inverse
   mapping (texel -> surface point -> pixel, kept where visible, front-facing and inside
   the visible-face mask), de-lit by a fitted grey SH shading, mirror-filled, then PCA.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from deocclude.reconstruct.face_model import FaceModel, rotation_matrix
from deocclude.reconstruct.fit import FitConfig, fit_geometry
from deocclude.reconstruct.procrustes import generalized_procrustes, umeyama
from deocclude.reconstruct.render import interpolate, rasterize, sh_basis, vertex_normals
from deocclude.reconstruct.utkface import UtkIndex, load_topology


@dataclass(frozen=True)
class BuildConfig:
    n_shape: int = 144
    n_albedo: int = 80
    texture_size: int = 128
    min_visible: float = 0.9  # faces used for the albedo (clean ones)
    max_albedo_faces: int = 3000
    camera_distance: float = 10.0  # in model units; the mean face is 2 wide
    batch: int = 64
    seed: int = 20261125
    fit: FitConfig = field(default_factory=lambda: FitConfig(steps=10))


def _to_model_frame(points: np.ndarray) -> torch.Tensor:
    """MediaPipe pixels (x right, y down, z smaller = nearer) -> X right, Y up, Z to viewer."""
    p = torch.from_numpy(points).double()
    return torch.stack([p[..., 0], -p[..., 1], -p[..., 2]], dim=-1)


@dataclass
class ShapeModel:
    mean: torch.Tensor  # (V, 3) model units
    components: torch.Tensor  # (K, V, 3) unit-norm directions
    std: torch.Tensor  # (K,)
    explained: torch.Tensor  # (K,) cumulative fraction of variance
    scale_px: float  # pixels (at 200) per model unit of the mean


def build_shape(points: np.ndarray, n_components: int) -> ShapeModel:
    """Similarity-Procrustes + PCA of (N, V, 3) landmark sets."""
    pts = _to_model_frame(points)
    pts = pts - pts.mean(1, keepdim=True)
    reference = pts.mean(0)
    aligned, mean = generalized_procrustes(pts, reference)
    width = float(mean[:, 0].max() - mean[:, 0].min())
    unit = width / 2.0  # the mean face is 2 model units wide
    aligned, mean = aligned / unit, mean / unit
    data = (aligned - mean).flatten(1)
    _, sing, vh = torch.linalg.svd(data, full_matrices=False)
    var = sing**2 / (data.shape[0] - 1)
    explained = torch.cumsum(var, 0) / var.sum()
    k = min(n_components, vh.shape[0])
    return ShapeModel(mean=mean.float(), components=vh[:k].reshape(k, -1, 3).float(),
                      std=var[:k].sqrt().float(), explained=explained[:k].float(), scale_px=unit)


def mirror_map(mean: torch.Tensor) -> torch.Tensor:
    """For each vertex, the vertex nearest to its mirror image (X -> -X) about the midline."""
    centred = mean - mean.mean(0)
    flipped = centred * torch.tensor([-1.0, 1.0, 1.0])
    perm = torch.cdist(flipped, centred).argmin(1)
    if not torch.equal(perm[perm], torch.arange(len(perm))):
        raise RuntimeError("mirror map of the mean shape is not an involution")
    return perm


def symmetrise(mean: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    flip = torch.tensor([-1.0, 1.0, 1.0])
    sym = 0.5 * (mean + mean[perm] * flip)
    return sym - sym.mean(0) * torch.tensor([1.0, 0.0, 0.0])


def _ear_clip(poly: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangulate a simple 2-D polygon (n, 2) given in either orientation."""
    idx = list(range(len(poly)))
    area = 0.5 * sum(poly[i, 0] * poly[(i + 1) % len(poly), 1] - poly[(i + 1) % len(poly), 0] * poly[i, 1] for i in idx)
    if area < 0:
        idx.reverse()
    out = []

    def cross(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    guard = 0
    while len(idx) > 3 and guard < 10000:
        guard += 1
        best = None
        for k in range(len(idx)):
            a, b, c = idx[k - 1], idx[k], idx[(k + 1) % len(idx)]
            if cross(poly[a], poly[b], poly[c]) <= 1e-12:
                continue
            inside = any(
                cross(poly[a], poly[b], poly[p]) >= 0
                and cross(poly[b], poly[c], poly[p]) >= 0
                and cross(poly[c], poly[a], poly[p]) >= 0
                for p in idx
                if p not in (a, b, c)
            )
            if not inside:
                # prefer the fattest ear (avoids slivers across a thin eye/mouth opening)
                ab, bc, ca = poly[b] - poly[a], poly[c] - poly[b], poly[a] - poly[c]
                quality = cross(poly[a], poly[b], poly[c]) / (np.dot(ab, ab) + np.dot(bc, bc) + np.dot(ca, ca))
                if best is None or quality > best[0]:
                    best = (quality, k)
        if best is None:  # numerically degenerate: fall back to a fan
            break
        k = best[1]
        out.append((idx[k - 1], idx[k], idx[(k + 1) % len(idx)]))
        idx.pop(k)
    for k in range(1, len(idx) - 1):
        out.append((idx[0], idx[k], idx[k + 1]))
    return out


def build_topology(triangles: np.ndarray, holes: list[list[int]], sym_mean: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Tessellation + closed holes, every triangle counter-clockwise seen from +Z."""
    xy = sym_mean[:, :2].double().numpy()
    extra = []
    for loop in holes:
        loop_arr = np.asarray(loop)
        extra += [tuple(loop_arr[list(t)]) for t in _ear_clip(xy[loop_arr])]
    tris = np.concatenate([triangles, np.asarray(extra, dtype=np.int64).reshape(-1, 3)])
    p = xy[tris]
    signed = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (
        p[:, 2, 0] - p[:, 0, 0]
    )
    tris[signed < 0] = tris[signed < 0][:, [0, 2, 1]]
    return torch.from_numpy(tris), len(triangles)


def cylindrical_uv(sym_mean: torch.Tensor, margin: float = 0.03) -> torch.Tensor:
    """u = angle around a vertical axis behind the face, v = height; both in [margin, 1-margin]."""
    x, y, z = sym_mean.unbind(-1)
    axis_z = z.min() - 0.25 * (x.max() - x.min())
    theta = torch.atan2(x, z - axis_z)
    u = theta / theta.abs().max()
    v = (y - y.min()) / (y.max() - y.min()) * 2 - 1
    # Both axes span the texture: texels are a little wider than tall, but none is wasted.
    half = 0.5 - margin
    return torch.stack([0.5 + half * u, 0.5 - half * v], dim=-1)


def fit_camera(
    mean: torch.Tensor, template: torch.Tensor, distance: float
) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pose the mean onto the template; return (focal, default translation, rotated mean, rotation).

    ``template`` (V, 2) in units of the image size. Fits rotation, focal length and
    translation of the perspective projection of the mean onto the template (L-BFGS from a
    weak-perspective start); the rotation is then baked into the model so x = 0 means
    "the template's pose".
    """
    tgt = torch.stack([template[:, 0] - 0.5, 0.5 - template[:, 1]], dim=-1).double()
    m = mean.double()
    sim = umeyama(m[None, :, :2], tgt[None])
    focal0 = float(sim.scale[0]) * distance
    params = torch.tensor([0.0, 0.0, 0.0, math.log(focal0), float(sim.translation[0, 0] / sim.scale[0]),
                           float(sim.translation[0, 1] / sim.scale[0])], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=200, line_search_fn="strong_wolfe")

    def project(p):
        rot = rotation_matrix(p[None, :3])[0]
        v = m @ rot.T + torch.stack([p[4], p[5], p.new_zeros(())])
        f = p[3].exp()
        return torch.stack([f * v[:, 0] / (distance - v[:, 2]), f * v[:, 1] / (distance - v[:, 2])], -1)

    def closure():
        opt.zero_grad()
        loss = ((project(params) - tgt) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    p = params.detach()
    rot = rotation_matrix(p[None, :3])[0]
    return float(p[3].exp()), torch.tensor([float(p[4]), float(p[5]), 0.0]), (m @ rot.T).float(), rot.float()


def canonical_template_unit(index: UtkIndex) -> tuple[torch.Tensor, str]:
    """The canonical landmark template in units of the crop size, and where it came from."""
    try:
        from deocclude.faces.align import canonical_template

        return torch.from_numpy(
            np.asarray(canonical_template(1000), dtype=np.float64) / 1000.0
        ), "deocclude.faces.align.canonical_template"
    except ImportError:
        train = index.select("train")
        return torch.from_numpy(
            index.points[train, :, :2].mean(0).astype(np.float64) / 200.0
        ), "mean of train landmarks / 200"


def skeleton_model(shape: ShapeModel, topology: tuple[torch.Tensor, int], uv: torch.Tensor, perm: torch.Tensor,
                   focal: float, distance: float, t0: torch.Tensor, n_albedo: int, tex: int) -> FaceModel:
    """A FaceModel with the geometry in place and a flat grey albedo (for fitting during the build)."""
    tris, n_mesh = topology
    tensors = {
        "mean_shape": shape.mean,
        "shape_basis": shape.components * shape.std[:, None, None],
        "shape_std": shape.std,
        "triangles": tris,
        "uv": uv.float(),
        "mean_albedo": torch.full((3, tex, tex), 0.5),
        "albedo_basis": torch.zeros(n_albedo, 3, tex, tex),
        "albedo_std": torch.zeros(n_albedo),
        "default_translation": t0.float(),
        "mirror": perm,
        "camera": torch.tensor([focal, distance]),
    }
    return FaceModel(tensors, {"n_mesh_triangles": str(n_mesh)})


def uv_rasterization(model: FaceModel, tex: int):
    """Which triangle and barycentrics every texel centre has (the UV layout as a mesh)."""
    uv = model.uv
    screen = torch.stack([uv[:, 0] * tex, uv[:, 1] * tex, torch.ones_like(uv[:, 0])], dim=-1)[None]
    return rasterize(screen, model.triangles, tex, cull_backfaces=False)


@dataclass
class Unwrapped:
    colour: torch.Tensor  # (B, 3, T, T) observed colour per texel
    basis: torch.Tensor  # (B, 9, T, T) SH basis of the texel's normal
    valid: torch.Tensor  # (B, T, T) texel seen in the photo


def unwrap(model: FaceModel, x: torch.Tensor, images: torch.Tensor, masks: torch.Tensor, uv_rast,
           depth_tol: float = 0.05, min_facing: float = 0.3) -> Unwrapped:
    """Inverse-map every texel into each photo; keep it where visible and front-facing."""
    size = images.shape[-1]
    batch = x.shape[0]
    verts = model.camera_vertices(x)
    screen = model.camera.project(verts, size)
    rast = rasterize(screen, model.triangles, size)
    tex_rast = type(uv_rast)(uv_rast.triangle_id.expand(batch, -1, -1), uv_rast.barycentrics.expand(batch, -1, -1, -1),
                             uv_rast.depth.expand(batch, -1, -1))
    pos = interpolate(screen, tex_rast, model.triangles)  # (B, T, T, 3): u, v, depth (linear in screen)
    normals = F.normalize(interpolate(vertex_normals(verts, model.triangles), tex_rast, model.triangles), dim=-1)
    in_uv = tex_rast.mask > 0
    grid = (pos[..., :2] / size) * 2 - 1
    colour = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    seen = F.grid_sample(masks[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]
    zbuf = rast.depth.clone()
    zbuf[~torch.isfinite(zbuf)] = 1e6
    near = F.grid_sample(zbuf[:, None], grid, mode="nearest", padding_mode="border", align_corners=False)[:, 0]
    inside = (grid.abs() < 1).all(-1)
    valid = in_uv & inside & (seen > 0.5) & (pos[..., 2] <= near + depth_tol) & (normals[..., 2] > min_facing)
    # Drop a 2-texel rim: at the silhouette, bilinear lookups blend in background pixels.
    valid = -F.max_pool2d(-valid[:, None].float(), 5, 1, 2)[:, 0] > 0.5
    return Unwrapped(colour=colour, basis=sh_basis(normals).permute(0, 3, 1, 2), valid=valid)


def delight(unw: Unwrapped, reference: torch.Tensor | None, prior: float = 1e-2) -> torch.Tensor:
    """Albedo textures (B, 3, T, T): colour divided by a fitted grey SH shading.

    The shading is fitted to the colour divided by a per-face colour gain and the
    ``reference`` albedo pattern (None = flat), so eyebrows and lips are not mistaken for
    shadows; the light is grey with its DC term kept at ~1 by a weak prior, so colour and
    brightness stay in the albedo.
    """
    b = unw.colour.shape[0]
    v = unw.valid.float()
    ref = reference[None] if reference is not None else torch.ones_like(unw.colour[:1])
    ref = ref / ref.mean(dim=(2, 3), keepdim=True)
    ratio = unw.colour / ref.clamp(min=1e-3)
    # per-face gain per channel: median of ratio over valid texels
    gains = []
    for i in range(b):
        sel = unw.valid[i]
        gains.append(ratio[i][:, sel].median(dim=1).values if sel.any() else ratio.new_ones(3))
    gain = torch.stack(gains).clamp(min=1e-3)  # (B, 3)
    target = (ratio / gain[:, :, None, None]).mean(1)  # (B, T, T) shading estimate
    h = unw.basis.flatten(2)  # (B, 9, TT)
    w = v.flatten(1)
    lhs = torch.einsum("bip,bjp,bp->bij", h, h, w) + prior * torch.eye(9, dtype=h.dtype, device=h.device)
    default = torch.zeros(9, dtype=h.dtype, device=h.device)
    default[0] = 1.0
    rhs = torch.einsum("bip,bp,bp->bi", h, target.flatten(1), w) + prior * default
    light = torch.linalg.solve(lhs, rhs)  # (B, 9)
    shading = torch.einsum("bi,bip->bp", light, h).view_as(target).clamp(min=0.25)
    return unw.colour / shading[:, None]


def mirror_fill(albedo: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill texels unseen in a photo from their mirror texel (UVs are mirror-symmetric)."""
    flip_a, flip_v = albedo.flip(-1), valid.flip(-1)
    use = (~valid) & flip_v
    return torch.where(use[:, None], flip_a, albedo), valid | flip_v


def dilate_fill(tex: torch.Tensor, known: torch.Tensor, rounds: int = 6) -> torch.Tensor:
    """Extend (C, T, T) values beyond ``known`` (T, T) by neighbour averaging, so bilinear
    lookups at the mesh border never blend in undefined texels."""
    k = known.float()[None, None]
    t = tex[None] * k
    for _ in range(rounds):
        s = F.avg_pool2d(t, 3, 1, 1) * 9
        c = F.avg_pool2d(k, 3, 1, 1) * 9
        grown = (c > 0) & (k == 0)
        t = torch.where(grown, s / c.clamp(min=1), t)
        k = torch.where(grown, torch.ones_like(k), k)
    return torch.where(k > 0, t, tex[None].mean(dim=(2, 3), keepdim=True))[0]


def pca_with_missing(textures: torch.Tensor, valid: torch.Tensor, n_components: int, rounds: int = 2):
    """PCA of (N, D) fp16 rows where ``valid`` (N, D) marks observed entries.

    Missing entries start at the per-entry mean and are re-imputed from the low-rank
    reconstruction ``rounds`` times (EM-style PCA), via the N x N Gram matrix in chunks.
    """
    n, d = textures.shape
    vf = valid.float()
    counts = vf.sum(0)
    mean = (textures.float() * vf).sum(0) / counts.clamp(min=1)
    data = torch.where(valid, textures, mean.half()[None].expand(n, -1))
    chunk = 4096
    for r in range(rounds + 1):
        gram = torch.zeros(n, n, dtype=torch.float64)
        for s in range(0, d, chunk):
            c = data[:, s:s + chunk].float() - mean[s:s + chunk]
            gram += (c @ c.T).double()
        evals, evecs = torch.linalg.eigh(gram)
        order = evals.argsort(descending=True)[:n_components]
        evals, evecs = evals[order].clamp(min=1e-12), evecs[:, order]
        # components (K, D) = U^T X / sqrt(eval)
        comps = torch.empty(n_components, d)
        for s in range(0, d, chunk):
            c = data[:, s:s + chunk].float() - mean[s:s + chunk]
            comps[:, s:s + chunk] = (evecs.T.float() @ c) / evals.sqrt().float()[:, None]
        total = float(gram.trace())
        if r == rounds:
            break
        coeffs = evecs.float() * evals.sqrt().float()  # (N, K) scores
        for s in range(0, d, chunk):
            recon = coeffs @ comps[:, s:s + chunk] + mean[s:s + chunk]
            data[:, s : s + chunk] = torch.where(
                valid[:, s : s + chunk], textures[:, s : s + chunk], recon.clamp(0, 1.5).half()
            )
    std = (evals / (n - 1)).sqrt().float()
    explained = (torch.cumsum(evals, 0) / total).float()
    return mean, comps, std, explained


def _load_batch(index: UtkIndex, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    imgs = np.stack([index.image(int(i)) for i in ids]).astype(np.float32) / 255.0
    masks = np.stack([index.face_mask(int(i)) for i in ids])
    return torch.from_numpy(imgs).permute(0, 3, 1, 2), torch.from_numpy(masks)


def build_face_model(index: UtkIndex, config: BuildConfig = BuildConfig(), log=print) -> tuple[FaceModel, dict]:
    """Build the whole model from the train split; returns it and a report of what was measured."""
    torch.manual_seed(config.seed)
    start = time.time()
    train = index.select("train")
    shape = build_shape(index.points[train], config.n_shape)
    log(f"shape: {len(train)} train faces, {config.n_shape} components explain "
        f"{float(shape.explained[-1]) * 100:.3f}% (10: {float(shape.explained[9]) * 100:.2f}%, "
        f"40: {float(shape.explained[39]) * 100:.3f}%)")
    template, template_src = canonical_template_unit(index)
    focal, t0, mean_rot, rot = fit_camera(shape.mean, template, config.camera_distance)
    shape.mean, shape.components = mean_rot, shape.components @ rot.T
    perm = mirror_map(shape.mean)
    sym = symmetrise(shape.mean, perm)
    triangles, holes = load_topology(index.root)
    topology = build_topology(triangles, holes, sym)
    uv = cylindrical_uv(sym)
    tex = config.texture_size
    model = skeleton_model(shape, topology, uv, perm, focal, config.camera_distance, t0, config.n_albedo, tex)
    with torch.no_grad():
        x0 = model.layout.zeros(1)
        proj = model.landmarks(x0, 200)[0, :, :2] / 200
        template_err = float((proj - template.float()).norm(dim=-1).mean() * 200)
    log(f"camera: focal {focal:.3f} x size, distance {config.camera_distance}, "
        f"mean face vs template {template_err:.3f} px at 200")

    clean = index.select("train", config.min_visible)
    rng = np.random.default_rng(config.seed)
    if len(clean) > config.max_albedo_faces:
        clean = np.sort(rng.choice(clean, config.max_albedo_faces, replace=False))
    uv_rast = uv_rasterization(model, tex)
    uv_mask = uv_rast.mask[0] > 0

    def unwrap_all(ids: np.ndarray, reference: torch.Tensor | None, tag: str):
        out_tex = torch.empty(len(ids), 3 * tex * tex, dtype=torch.float16)
        out_valid = torch.empty(len(ids), 3 * tex * tex, dtype=torch.bool)
        t = time.time()
        for s in range(0, len(ids), config.batch):
            chunk = ids[s:s + config.batch]
            images, masks = _load_batch(index, chunk)
            lms = torch.from_numpy(index.points[chunk])
            x = fit_geometry(model, lms, 200, config.fit)
            with torch.no_grad():
                unw = unwrap(model, x, images, masks, uv_rast)
                albedo = delight(unw, reference)
                albedo, valid = mirror_fill(albedo, unw.valid)
            out_tex[s:s + len(chunk)] = albedo.clamp(0, 1.5).flatten(1).half()
            out_valid[s:s + len(chunk)] = valid[:, None].expand(-1, 3, -1, -1).flatten(1)
            if (s // config.batch) % 10 == 0:
                log(f"albedo {tag}: {s + len(chunk)}/{len(ids)} faces, {time.time() - t:.0f} s")
        return out_tex, out_valid

    # Pass 1 on a few hundred faces gives the reference albedo pattern used to de-light pass 2.
    ref_tex, ref_valid = unwrap_all(clean[:256], None, "reference")
    vf = ref_valid.float()
    reference = ((ref_tex.float() * vf).sum(0) / vf.sum(0).clamp(min=1)).view(3, tex, tex)
    reference = dilate_fill(reference, uv_mask, rounds=tex)
    textures, valid = unwrap_all(clean, reference, "all")
    coverage = float(valid.float().view(len(clean), 3, tex, tex)[:, 0][:, uv_mask].mean())
    log(f"albedo: {len(clean)} faces unwrapped, {coverage * 100:.1f}% of face texels observed "
        "(after mirror fill); PCA...")
    mean, comps, std, explained = pca_with_missing(textures, valid, config.n_albedo)
    # Texels no photo ever showed (the outermost rim of the UV layout) have no statistics:
    # extend the observed ones outwards so the rendered outline is not dark.
    seen = valid.view(len(clean), 3, tex, tex)[:, 0].float().mean(0) >= 0.01
    mean = dilate_fill(mean.view(3, tex, tex), seen, rounds=tex).clamp(0, 1)
    comps = torch.stack([dilate_fill(c.view(3, tex, tex), seen, rounds=tex) for c in comps])
    log(f"albedo: {config.n_albedo} components explain {float(explained[-1]) * 100:.2f}% of the texture variance")

    tris, n_mesh = topology
    tensors = {
        "mean_shape": shape.mean,
        "shape_basis": shape.components * shape.std[:, None, None],
        "shape_std": shape.std,
        "shape_explained": shape.explained,
        "triangles": tris,
        "uv": uv.float(),
        "mean_albedo": mean,
        "albedo_basis": comps * std[:, None, None, None],
        "albedo_std": std,
        "albedo_explained": explained,
        "default_translation": t0.float(),
        "mirror": perm,
        "camera": torch.tensor([focal, config.camera_distance]),
    }
    report = {
        "n_train_shapes": int(len(train)),
        "n_albedo_faces": int(len(clean)),
        "shape_explained": {str(k): float(shape.explained[k - 1]) for k in (1, 3, 10, 40, 80, config.n_shape)},
        "albedo_explained": {str(k): float(explained[k - 1]) for k in (1, 3, 10, 40, config.n_albedo)},
        "texel_coverage": coverage,
        "template": template_src,
        "mean_face_vs_template_px_at_200": template_err,
        "focal": focal,
        "camera_distance": config.camera_distance,
        "triangles": int(tris.shape[0]),
        "hole_triangles": int(tris.shape[0] - n_mesh),
        "minutes": (time.time() - start) / 60,
    }
    metadata = {
        "n_mesh_triangles": str(n_mesh),
        "built_by": "deocclude build-face-model (deocclude.reconstruct.build)",
        "data": "UTKFace train split (shared/data/faces/utkface: landmarks.npz, images, face_masks)",
        "licence": "derived from UTKFace: non-commercial research use only",
        "config": repr(config),
        "report": __import__("json").dumps(report),
    }
    return FaceModel(tensors, metadata), report

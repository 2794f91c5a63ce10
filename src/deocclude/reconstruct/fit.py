"""The teacher: fit x* to a photo by least squares (docs/design.md §3; the paper's Deep3DFaceRecon role).

Two stages, both batched over many faces:

1. Geometry (pose + shape) to the 468 landmarks. A closed-form start (similarity
   Procrustes of the mean shape onto the landmarks, alternated with a ridge solve for the
   shape coefficients) followed by Adam steps on the perspective reprojection error plus
   MediaPipe's relative depth; the shape prior is N(0, 1) per coefficient (coefficients
   are in std-dev units).
2. Appearance (albedo + SH light) to the visible-face pixels M_F ⊙ M_R. With the geometry
   fixed the image is bilinear in (albedo, light): alternating ridge solves of the two
   linear problems converge in a few rounds.

The non-robust baseline of R's robustness experiment is this same teacher run on an
occluded photo: pass the occluded image, the landmarks detected on it and its (occluded)
visible-face mask to :func:`fit_teacher` — nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deocclude.reconstruct.face_model import FaceModel, angles_from_rotation
from deocclude.reconstruct.procrustes import umeyama
from deocclude.reconstruct.render import interpolate, rasterize, sh_basis, vertex_normals


@dataclass(frozen=True)
class FitConfig:
    """Knobs of the teacher. Noise levels turn the least squares into MAP estimates."""

    landmark_noise: float = 0.006  # landmark std-dev as a fraction of the image size (1.2 px at 200)
    depth_noise: float = 0.02  # MediaPipe relative-depth std-dev, fraction of the image size
    init_rounds: int = 3  # Procrustes <-> ridge-shape alternations
    steps: int = 80  # Adam refinement steps of pose + shape
    lr: float = 0.02
    photometric_noise: float = 0.06  # pixel std-dev in [0, 1] units
    light_prior: float = 1.0  # std-dev of each SH coefficient around the default light
    appearance_rounds: int = 3
    max_pixels: int = 1000  # random visible pixels per face for the appearance solve (3000 equations for 107 unknowns)


@dataclass(frozen=True)
class FitResult:
    x: torch.Tensor  # (B, 257)
    landmark_error: torch.Tensor  # (B,) mean 2-D distance in pixels to the target landmarks
    photometric_error: torch.Tensor  # (B,) mean |I_R - I| over M_F ⊙ M_R (per channel, [0, 1])


def _target_frame(landmarks: torch.Tensor, size: int) -> torch.Tensor:
    """Image landmarks (u, v, z) -> a y-up, z-towards-viewer frame centred on the image."""
    centre = size / 2
    return torch.stack([landmarks[..., 0] - centre, centre - landmarks[..., 1], -landmarks[..., 2]], dim=-1)


def initial_geometry(model: FaceModel, landmarks: torch.Tensor, size: int, config: FitConfig) -> torch.Tensor:
    """Closed-form start: weak-perspective pose + ridge shape from 3-D landmarks (B, 468, 3)."""
    target = _target_frame(landmarks, size)
    batch = landmarks.shape[0]
    basis = model.shape_basis.flatten(1).T  # (3V, K)
    n_shape = basis.shape[1]
    alpha = landmarks.new_zeros(batch, n_shape)
    noise_px = config.landmark_noise * size
    for _ in range(config.init_rounds):
        verts = model.shape(alpha)
        sim = umeyama(verts, target)
        # Undo the similarity on the targets, then ridge-solve the shape in model units.
        local = ((target - sim.translation[:, None]) @ sim.rotation) / sim.scale[:, None, None]
        resid = (local - model.mean_shape).flatten(1)  # (B, 3V)
        lam = (noise_px / sim.scale) ** 2  # prior weight in model units
        gram = basis.T @ basis
        lhs = gram + lam[:, None, None] * torch.eye(n_shape, dtype=gram.dtype, device=gram.device)
        alpha = torch.linalg.solve(lhs, resid @ basis)
    f = model.camera.focal * size
    tz = model.camera.distance - f / sim.scale
    t_xy = sim.translation[:, :2] / sim.scale[:, None]
    translation = torch.cat([t_xy, tz[:, None]], dim=1) - model.default_translation
    x = model.layout.zeros(batch, device=landmarks.device, dtype=landmarks.dtype)
    lay = model.layout
    x[:, lay.angles] = angles_from_rotation(sim.rotation)
    x[:, lay.translation] = translation
    x[:, lay.shape] = alpha
    return x


def landmark_loss(model: FaceModel, x: torch.Tensor, landmarks: torch.Tensor, size: int,
                  config: FitConfig) -> torch.Tensor:
    """Per-face negative log posterior of pose + shape (B,)."""
    pred = model.landmarks(x, size)
    f = model.camera.focal * size
    noise = config.landmark_noise * size
    err2d = ((pred[..., :2] - landmarks[..., :2]) ** 2).sum(-1) / noise**2
    # Relative depth in pixels: camera-space Z times the local image scale, centred.
    cam_z = model.camera.distance - pred[..., 2]
    z_pix = -cam_z * (f / pred[..., 2].mean(1, keepdim=True))
    z_pix = z_pix - z_pix.mean(1, keepdim=True)
    z_mp = landmarks[..., 2] - landmarks[..., 2].mean(1, keepdim=True)
    errz = (z_pix - z_mp) ** 2 / (config.depth_noise * size) ** 2
    shape = x[:, model.layout.shape]
    return err2d.sum(1) + errz.sum(1) + (shape**2).sum(1)


def fit_geometry(model: FaceModel, landmarks: torch.Tensor, size: int, config: FitConfig = FitConfig()) -> torch.Tensor:
    """Pose + shape coefficients (B, 257; appearance fields 0) for landmarks (B, 468, 3).

    ``landmarks`` are in the N x N image's pixels (centre of pixel (i, j) at (j+.5, i+.5)),
    z = MediaPipe's relative depth in pixels (smaller = nearer).
    """
    x0 = initial_geometry(model, landmarks, size, config)
    lay = model.layout
    geo = torch.cat([x0[:, lay.pose], x0[:, lay.shape]], dim=1).detach().requires_grad_(True)
    opt = torch.optim.Adam([geo], lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, config.steps))
    rest = x0[:, lay.shape.stop:]
    with torch.enable_grad():
        for _ in range(config.steps):
            opt.zero_grad(set_to_none=True)
            x = torch.cat([geo, rest], dim=1)
            landmark_loss(model, x, landmarks, size, config).sum().backward()
            opt.step()
            sched.step()
    return torch.cat([geo.detach(), rest], dim=1)


@dataclass(frozen=True)
class SurfaceSamples:
    """Per face, up to P visible pixels with what the appearance solve needs (padded)."""

    colour: torch.Tensor  # (B, P, 3) observed colour
    uv: torch.Tensor  # (B, P, 2)
    basis: torch.Tensor  # (B, P, 9) SH irradiance basis of the pixel's normal
    weight: torch.Tensor  # (B, P) 1 = real sample, 0 = padding


def surface_samples(model: FaceModel, x: torch.Tensor, images: torch.Tensor, masks: torch.Tensor,
                    max_pixels: int, generator: torch.Generator | None = None) -> tuple[SurfaceSamples, torch.Tensor]:
    """Rasterize the fitted geometry; sample pixels of M_F ⊙ M_R. Returns samples and M_R (B, H, W)."""
    size = images.shape[-1]
    with torch.no_grad():
        verts = model.camera_vertices(x)
        screen = model.camera.project(verts, size)
        rast = rasterize(screen, model.triangles, size)
        normals = F.normalize(interpolate(vertex_normals(verts, model.triangles), rast, model.triangles), dim=-1)
        uv = interpolate(model.uv, rast, model.triangles)
        cover = rast.mask
        use = cover * masks
        flat_use = use.flatten(1)
        # Random scores, -1 on unusable pixels: topk picks a random subset of usable ones.
        gen_device = generator.device if generator is not None else flat_use.device
        scores = torch.rand(flat_use.shape, generator=generator, device=gen_device).to(flat_use.device)
        scores = torch.where(flat_use > 0.5, scores, torch.full_like(scores, -1.0))
        k = min(max_pixels, scores.shape[1])
        top, idx = scores.topk(k, dim=1)
        weight = (top >= 0).to(images.dtype)
        colour = images.flatten(2).transpose(1, 2).gather(1, idx[..., None].expand(-1, -1, 3))
        uv_s = uv.flatten(1, 2).gather(1, idx[..., None].expand(-1, -1, 2))
        n_s = normals.flatten(1, 2).gather(1, idx[..., None].expand(-1, -1, 3))
    return SurfaceSamples(colour=colour, uv=uv_s, basis=sh_basis(n_s), weight=weight), cover


def _sample_albedo_basis(model: FaceModel, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean albedo (B, P, 3) and std-scaled basis (B, P, K, 3) at uv (B, P, 2)."""
    batch, n_pts = uv.shape[:2]
    n_comp = model.albedo_basis.shape[0]
    tex = torch.cat([model.mean_albedo[None], model.albedo_basis], dim=0).reshape(1, -1, *model.mean_albedo.shape[1:])
    grid = (uv.reshape(1, 1, -1, 2) * 2 - 1).to(tex.dtype)
    vals = F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False)
    vals = vals.reshape(n_comp + 1, 3, batch, n_pts).permute(2, 3, 0, 1)  # (B, P, K+1, 3)
    return vals[:, :, 0], vals[:, :, 1:]


def fit_appearance(model: FaceModel, x: torch.Tensor, images: torch.Tensor, masks: torch.Tensor,
                   config: FitConfig = FitConfig(), generator: torch.Generator | None = None) -> torch.Tensor:
    """Albedo + SH light of x (B, 257) by alternating ridge solves on M_F ⊙ M_R pixels.

    images (B, 3, N, N) in [0, 1]; masks (B, N, N) visible face M_F (1 = face).
    """
    samples, _ = surface_samples(model, x, images, masks, config.max_pixels, generator)
    mean_a, basis_a = _sample_albedo_basis(model, samples.uv)  # (B,P,3), (B,P,K,3)
    w = samples.weight[..., None]  # (B, P, 1)
    obs = samples.colour
    h = samples.basis  # (B, P, 9)
    batch, n_comp = x.shape[0], basis_a.shape[2]
    sigma2 = config.photometric_noise**2
    eye_k = torch.eye(n_comp, dtype=x.dtype, device=x.device)
    eye_9 = torch.eye(9, dtype=x.dtype, device=x.device)
    delta = x.new_zeros(batch, n_comp)
    default = x.new_zeros(batch, 9, 3)
    default[:, 0] = 1.0
    light = default.clone()
    for _ in range(config.appearance_rounds):
        albedo = mean_a + torch.einsum("bk,bpkc->bpc", delta, basis_a)  # (B, P, 3)
        # Light: per channel, obs_c = albedo_c * (h @ L_c); prior L ~ N(default, light_prior^2).
        a_h = (albedo * w).permute(0, 2, 1).unsqueeze(-1) * h.unsqueeze(1)  # (B, 3, P, 9), weighted
        a_h = a_h.flatten(0, 1)
        lhs = torch.bmm(a_h.transpose(1, 2), a_h) + (sigma2 / config.light_prior**2) * eye_9
        rhs = torch.bmm(a_h.transpose(1, 2), (obs * w).permute(0, 2, 1).flatten(0, 1).unsqueeze(-1))[..., 0]
        rhs = rhs + (sigma2 / config.light_prior**2) * default.transpose(1, 2).flatten(0, 1)
        light = torch.linalg.solve(lhs, rhs).view(batch, 3, 9).transpose(1, 2)  # (B, 9, 3)
        # Albedo: obs = shading * (mean + basis @ delta); prior delta ~ N(0, 1).
        shading = torch.einsum("bpi,bic->bpc", h, light)  # (B, P, 3)
        g = (basis_a * (shading * w).unsqueeze(2)).permute(0, 1, 3, 2).reshape(batch, -1, n_comp)  # (B, 3P, K)
        resid = ((obs - shading * mean_a) * w).reshape(batch, -1, 1)
        lhs = torch.bmm(g.transpose(1, 2), g) + sigma2 * eye_k
        delta = torch.linalg.solve(lhs, torch.bmm(g.transpose(1, 2), resid)[..., 0])
    out = x.clone()
    out[:, model.layout.albedo] = delta
    out[:, model.layout.light] = (light - default).reshape(batch, 27)
    return out


def fit_teacher(model: FaceModel, images: torch.Tensor, landmarks: torch.Tensor, masks: torch.Tensor,
                config: FitConfig = FitConfig(), generator: torch.Generator | None = None) -> FitResult:
    """x* for a batch of aligned crops.

    images (B, 3, N, N) float in [0, 1]; landmarks (B, 468, 3) in the crop's pixels (z =
    MediaPipe relative depth); masks (B, N, N) visible face M_F (1 = face; pixels outside
    the real photo should be 0). For the non-robust baseline pass the occluded image, its
    own landmarks and its own mask.
    """
    size = images.shape[-1]
    x = fit_geometry(model, landmarks, size, config)
    x = fit_appearance(model, x, images, masks, config, generator)
    return FitResult(x=x, **evaluate_fit(model, x, images, landmarks, masks))


@torch.no_grad()
def evaluate_fit(model: FaceModel, x: torch.Tensor, images: torch.Tensor, landmarks: torch.Tensor,
                 masks: torch.Tensor) -> dict[str, torch.Tensor]:
    """Landmark error (px) and masked photometric L1 of x against the targets, per face."""
    size = images.shape[-1]
    rendered = model.render(x, size)
    lm_err = (rendered.landmarks - landmarks[..., :2]).norm(dim=-1).mean(1)
    m = rendered.mask[:, 0] * masks
    diff = (rendered.image - images).abs().mean(1)
    photo = (diff * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp(min=1)
    return {"landmark_error": lm_err, "photometric_error": photo}

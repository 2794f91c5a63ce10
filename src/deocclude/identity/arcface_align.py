"""Alignment from our 468-point mesh to the standard 5-point 112×112 ArcFace template.

One function for the metric and the losses, so both see the same chip: 5 points (eye centres
= mean of each eye's 16-vertex contour, nose tip, mouth corners) are taken from the mesh, a
least-squares similarity (batched Umeyama, no reflection) maps them onto the template, and
``grid_sample`` resamples the crop, so gradients reach every input pixel. Without landmarks
the canonical template's own mesh is used: one fixed warp for crops that are already in the
canonical frame (a generated face has no landmarks of its own).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deocclude.faces.align import canonical_template
from deocclude.identity.arcface import ARCFACE_SIZE, ArcFaceMobile, load_arcface

ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
], dtype=np.float64) + 0.5
"""insightface's 112×112 template (image-left eye, image-right eye, nose tip, image-left and
image-right mouth corner), shifted +0.5 from OpenCV's integer pixel centres to our continuous
coordinates (pixel (i, j) covers [i, i+1))."""

LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = 1, 61, 291


def five_points(landmarks: torch.Tensor) -> torch.Tensor:
    """(B, 468, 2|3) mesh in crop pixels -> (B, 5, 2) in the template's order."""
    xy = landmarks[..., :2]
    return torch.stack([
        xy[:, list(LEFT_EYE)].mean(1), xy[:, list(RIGHT_EYE)].mean(1),
        xy[:, NOSE_TIP], xy[:, MOUTH_LEFT], xy[:, MOUTH_RIGHT],
    ], dim=1)


def similarity_to_template(points: torch.Tensor) -> torch.Tensor:
    """(B, 5, 2) points -> (B, 2, 3) least-squares similarity A with template ≈ A @ [p; 1] (Umeyama)."""
    dst = torch.as_tensor(ARCFACE_TEMPLATE, dtype=points.dtype, device=points.device).expand_as(points)
    src_mean, dst_mean = points.mean(1, keepdim=True), dst.mean(1, keepdim=True)
    src_c, dst_c = points - src_mean, dst - dst_mean
    # for 2-D similarities the optimum is closed form: a = Σ(x·x' + y·y') / Σ|p|², b = Σ(x·y' − y·x') / Σ|p|²
    norm = (src_c ** 2).sum((1, 2))
    a = (src_c * dst_c).sum((1, 2)) / norm
    b = (src_c[..., 0] * dst_c[..., 1] - src_c[..., 1] * dst_c[..., 0]).sum(1) / norm
    rot = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], 1)  # (B, 2, 2)
    shift = dst_mean.squeeze(1) - (rot @ src_mean.transpose(1, 2)).squeeze(-1)
    return torch.cat([rot, shift[..., None]], -1)


def arcface_chips(crops: torch.Tensor, landmarks: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """(B, 3, N, N) crops in [0, 1] (+ (B, 468, 2|3) landmarks in crop pixels) -> (B, 3, 112, 112) chips.

    Differentiable w.r.t. ``crops``. Crops much larger than the chip are area-filtered first so
    the bilinear warp does not alias. Outside the crop the chip reflects it.
    """
    batch, size = crops.shape[0], crops.shape[-1]
    if landmarks is None:
        landmarks = torch.from_numpy(canonical_template(size)).expand(batch, -1, -1)
    landmarks = torch.as_tensor(landmarks, dtype=torch.float64, device=crops.device)
    matrix = similarity_to_template(five_points(landmarks))
    scale = float(torch.linalg.det(matrix[:, :, :2]).sqrt().mean())  # crop px -> chip px
    if scale < 0.8:
        shrunk = max(ARCFACE_SIZE, int(round(size * scale)))
        crops = F.interpolate(crops, size=(shrunk, shrunk), mode="bilinear", align_corners=False, antialias=True)
        matrix = matrix.clone()
        matrix[:, :, :2] *= size / shrunk
        size = shrunk
    full = torch.cat([matrix, matrix.new_tensor([0.0, 0.0, 1.0]).expand(batch, 1, 3)], 1)
    to_crop = torch.linalg.inv(full)

    def unnormalise(n: int) -> torch.Tensor:  # [-1, 1] -> [0, n] (align_corners=False: pixel edges)
        return matrix.new_tensor([[n / 2, 0, n / 2], [0, n / 2, n / 2], [0, 0, 1.0]])

    theta = (torch.linalg.inv(unnormalise(size)) @ to_crop @ unnormalise(ARCFACE_SIZE))[:, :2]
    grid = F.affine_grid(theta.to(crops.dtype), [batch, 3, ARCFACE_SIZE, ARCFACE_SIZE], align_corners=False)
    return F.grid_sample(crops, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


_NETWORKS: dict[str, ArcFaceMobile] = {}


def arcface_network(device: torch.device | str) -> ArcFaceMobile:
    """The bundled network on ``device``, loaded once per process and device (metric and losses share it)."""
    key = str(device)
    if key not in _NETWORKS:
        _NETWORKS[key] = load_arcface(device=device)
    return _NETWORKS[key]


def arcface_embedding(
    crops: torch.Tensor, landmarks: torch.Tensor | np.ndarray | None = None, network: ArcFaceMobile | None = None
) -> torch.Tensor:
    """(B, 3, N, N) canonical crops in [0, 1] (+ optional (B, 468, 2|3) landmarks) -> (B, 512) embeddings."""
    network = network if network is not None else arcface_network(crops.device)
    parameter = next(network.parameters())
    return network(arcface_chips(crops.to(parameter.dtype), landmarks))


def arcface_cosine(
    a: torch.Tensor, b: torch.Tensor, landmarks_a: torch.Tensor | np.ndarray | None = None,
    landmarks_b: torch.Tensor | np.ndarray | None = None, network: ArcFaceMobile | None = None,
) -> torch.Tensor:
    """Cosine (B,) between the ArcFace embeddings of two crop batches; ``1 - cos`` is an identity loss."""
    return F.cosine_similarity(
        arcface_embedding(a, landmarks_a, network), arcface_embedding(b, landmarks_b, network), dim=1
    )

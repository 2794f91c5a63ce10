"""Batched similarity Procrustes (Umeyama 1991) in torch.

Used twice: to align the training landmark sets before PCA, and to initialise each
teacher fit in closed form, so the iterative refinement starts near the answer and never
has to find the head's rotation by gradient descent.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Similarity(NamedTuple):
    """dst ~= scale * src @ rotation.T + translation, batched."""

    scale: torch.Tensor  # (B,)
    rotation: torch.Tensor  # (B, D, D), det = +1
    translation: torch.Tensor  # (B, D)

    def apply(self, points: torch.Tensor) -> torch.Tensor:
        return self.scale[:, None, None] * points @ self.rotation.transpose(1, 2) + self.translation[:, None]


def umeyama(src: torch.Tensor, dst: torch.Tensor, weights: torch.Tensor | None = None) -> Similarity:
    """Least-squares similarity taking ``src`` (B, K, D) onto ``dst`` (B, K, D).

    ``weights`` (B, K) or (K,) down-weight unreliable points (e.g. ones outside the crop).
    """
    if src.ndim == 2:
        src = src.expand(dst.shape[0], -1, -1)
    if dst.ndim == 2:
        dst = dst.expand(src.shape[0], -1, -1)
    if weights is None:
        weights = src.new_ones(src.shape[:2])
    elif weights.ndim == 1:
        weights = weights.expand(src.shape[0], -1)
    w = weights / weights.sum(1, keepdim=True).clamp(min=1e-12)
    mu_s = (w[..., None] * src).sum(1)
    mu_d = (w[..., None] * dst).sum(1)
    s0 = src - mu_s[:, None]
    d0 = dst - mu_d[:, None]
    cov = torch.einsum("bk,bki,bkj->bij", w, d0, s0)
    u, sig, vh = torch.linalg.svd(cov)
    dim = src.shape[-1]
    fix = torch.ones(src.shape[0], dim, dtype=src.dtype, device=src.device)
    fix[:, -1] = torch.sign(torch.linalg.det(u) * torch.linalg.det(vh))
    rot = u @ torch.diag_embed(fix) @ vh
    var_s = (w * (s0 ** 2).sum(-1)).sum(1)
    scale = (sig * fix).sum(1) / var_s.clamp(min=1e-12)
    trans = mu_d - scale[:, None] * (mu_s[:, None] @ rot.transpose(1, 2))[:, 0]
    return Similarity(scale, rot, trans)


def generalized_procrustes(
    points: torch.Tensor, reference: torch.Tensor, iterations: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Align every set (N, K, D) to their common mean; returns (aligned sets, mean).

    The mean is re-anchored to ``reference`` (similarity) after each round, so its pose
    and scale stay those of the reference instead of drifting.
    """
    mean = reference
    aligned = points
    for _ in range(iterations):
        aligned = umeyama(points, mean).apply(points)
        new_mean = aligned.mean(0)
        mean = umeyama(new_mean[None], reference[None]).apply(new_mean[None])[0]
    aligned = umeyama(points, mean).apply(points)
    return aligned, mean

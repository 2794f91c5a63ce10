"""G's losses, eqs. 10–16 of docs/method.md §5, each a small function of tensors.

Conventions: images in [0, 1], (B, 3, H, W); masks (B, 1, H, W) in [0, 1]. Every
masked mean divides by the mask's own area (plus ε), so a batch with an empty mask
gives 0, not NaN, and keeps the graph (``pred.sum() * 0``) so DDP sees every parameter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.metrics import ssim as kornia_ssim
from kornia.morphology import erosion

EPS = 1e-6


def erode(mask: torch.Tensor, kernel: int) -> torch.Tensor:
    """Binary-ish erosion with a square ``kernel`` (≤ 1 = unchanged); kornia's geodesic border."""
    if kernel <= 1:
        return mask
    return erosion(mask, torch.ones(kernel, kernel, device=mask.device, dtype=mask.dtype))


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """‖(pred − target) ⊙ M‖₁ / Σ M, averaged over channels (eqs. 10 and 12)."""
    m = mask.expand_as(pred)
    return ((pred - target).abs() * m).sum() / (m.sum() + EPS)


def ssim_ohem(pred: torch.Tensor, target: torch.Tensor, region: torch.Tensor, window: int = 11,
              fraction: float = 0.5, min_kept: int = 64, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 11: OHEM over the map 1 − SSIM(pred, target) restricted to ``region``.

    Per image, the hardest ``max(fraction·n, min_kept)`` of the n region pixels are
    averaged; images with an empty region (or ``weight`` 0, e.g. no prior) are skipped.
    """
    dissim = (1.0 - kornia_ssim(pred, target, window)).mean(1)  # (B, H, W)
    region = region[:, 0] > 0.5
    if weight is not None:
        region = region & (weight.view(-1, 1, 1) > 0)
    total, count = pred.sum() * 0.0, 0
    for d, r in zip(dissim, region):
        values = d[r]
        n = values.numel()
        if n == 0:
            continue
        k = min(n, max(int(fraction * n), min_kept))
        total = total + values.topk(k).values.mean()
        count += 1
    return total / max(count, 1)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Eq. 13: mean |∇_x| + mean |∇_y| (anisotropic TV)."""
    return (x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()


def identity_loss(embed, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_id = 1 − cos(φ(pred), φ(target)); ``embed`` maps (B, 3, H, W) in [0, 1] to (B, D)."""
    with torch.no_grad():
        ref = embed(target)
    return cosine_loss(embed(pred), ref)


def cosine_loss(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """1 − cos between (B, D) embeddings, averaged: L_id from embeddings already computed."""
    return (1.0 - F.cosine_similarity(pred, ref, dim=1)).mean()


def feature_l1(features, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Perceptual loss (ours): mean over layers of ‖f_l(pred) − f_l(target)‖₁ / mean |f_l(target)|.

    ``features`` maps (B, 3, H, W) in [0, 1] to a list of feature maps. Each layer is divided by
    its target's mean magnitude so that the shallow, large maps and the deep, small ones weigh
    alike. Why: the pixel terms reward the blurry average face; a face network's features reward
    the edges of lids, irises and lips (issue 17's "mannequin" fills).
    """
    with torch.no_grad():
        refs = features(target)
    return feature_distance(features(pred), refs)


def feature_distance(pred_maps: list[torch.Tensor], ref_maps: list[torch.Tensor]) -> torch.Tensor:
    """:func:`feature_l1` from feature maps already computed (the reference ones without gradient)."""
    layers = [(p - r).abs().mean() / (r.abs().mean() + EPS) for p, r in zip(pred_maps, ref_maps)]
    return torch.stack(layers).mean()


def generator_adversarial(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 14, non-saturating: −log D(Î) = softplus(−logit)."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, real_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 16: BCE(D(real), 1) + BCE(D(fake), 0); ``real_weight`` drops reals with too much real occlusion."""
    real = F.softplus(-real_logits)
    if real_weight is not None:
        real = (real * real_weight).sum() / (real_weight.sum() + EPS)
    else:
        real = real.mean()
    return real + F.softplus(fake_logits).mean()


__all__ = [
    "erode",
    "masked_l1",
    "ssim_ohem",
    "total_variation",
    "identity_loss",
    "feature_l1",
    "feature_distance",
    "cosine_loss",
    "generator_adversarial",
    "discriminator_loss",
]

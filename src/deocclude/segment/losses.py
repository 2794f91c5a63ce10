"""Segmentation losses: L_S = L_Dice + L_BCE-OHEM (METHOD.md §3, eqs. 3-4).

kornia's ``dice_loss`` is the multi-class softmax form over integer labels; S has one
sigmoid logit and soft targets, so both terms are written here in a few lines of torch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deocclude.segment.config import SegmentLossConfig


def dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None, eps: float = 1.0) -> torch.Tensor:
    """Eq. 3 per image, averaged over the batch: 1 − (2Σp·g + ε) / (Σp + Σg + ε)."""
    p = torch.sigmoid(logits.float()).flatten(1)
    g = target.float().flatten(1)
    if valid is not None:
        v = valid.float().flatten(1)
        p, g = p * v, g * v
    inter = (p * g).sum(1)
    return (1.0 - (2.0 * inter + eps) / (p.sum(1) + g.sum(1) + eps)).mean()


def ohem_bce_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    fraction: float = 0.25,
    min_kept: int = 256,
    threshold: float = -math.log(0.7),
) -> torch.Tensor:
    """Eq. 4: per-pixel BCE, keep per image the top k = max(fraction·H·W, min_kept) pixels
    plus every pixel whose loss exceeds ``threshold``; average the kept ones, then the batch.

    Pixels with ``valid == 0`` (e.g. alignment padding) are never kept.
    """
    loss = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none").flatten(1)
    n = loss.shape[1]
    k = min(n, max(int(fraction * n), min_kept))
    ok = torch.ones_like(loss, dtype=torch.bool) if valid is None else valid.flatten(1) > 0.5
    ranked = loss.detach().masked_fill(~ok, -1.0)
    top = torch.zeros_like(ok).scatter_(1, ranked.topk(k, dim=1).indices, True)
    keep = (top | (ranked > threshold)) & ok
    kept = (loss * keep).sum(1) / keep.sum(1).clamp_min(1)
    return kept.mean()


class SegmentLoss(torch.nn.Module):
    """Dice + OHEM-BCE; returns the parts too, for logging."""

    def __init__(self, config: SegmentLossConfig = SegmentLossConfig()) -> None:
        super().__init__()
        self.config = config

    def forward(self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        c = self.config
        dice = dice_loss(logits, target, valid, c.dice_eps)
        bce = ohem_bce_loss(logits, target, valid, c.ohem_fraction, c.ohem_min_kept, c.ohem_threshold)
        return {"loss": c.dice_weight * dice + c.bce_weight * bce, "dice": dice, "bce_ohem": bce}

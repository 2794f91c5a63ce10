"""Segmentation losses: L_S = L_Dice + L_BCE-OHEM (docs/method.md §3, eqs. 3-4), binary or per class.

kornia's ``dice_loss`` is the multi-class softmax form over integer labels; S has one
sigmoid logit and soft targets, so both terms are written here in a few lines of torch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deocclude.segment.config import SegmentLossConfig


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None, eps: float = 1.0
) -> torch.Tensor:
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
    loss = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return ohem_select(loss, valid, fraction, min_kept, threshold)


def ohem_select(
    loss: torch.Tensor, valid: torch.Tensor | None, fraction: float, min_kept: int, threshold: float
) -> torch.Tensor:
    """Mean of the OHEM-kept pixels of a per-pixel loss map (B, …), averaged over the batch.

    Shared by the binary BCE and the parser's softmax CE, so both keep the same pixels rule.
    """
    loss = loss.flatten(1)
    n = loss.shape[1]
    k = min(n, max(int(fraction * n), min_kept))
    ok = torch.ones_like(loss, dtype=torch.bool) if valid is None else valid.flatten(1) > 0.5
    ranked = loss.detach().masked_fill(~ok, -1.0)
    top = torch.zeros_like(ok).scatter_(1, ranked.topk(k, dim=1).indices, True)
    keep = (top | (ranked > threshold)) & ok
    return ((loss * keep).sum(1) / keep.sum(1).clamp_min(1)).mean()


def ohem_ce_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    fraction: float = 0.25,
    min_kept: int = 256,
    threshold: float = -math.log(0.7),
) -> torch.Tensor:
    """The parser's eq. 4: softmax cross-entropy against soft class targets (B,C,H,W), OHEM-kept."""
    per_pixel = -(target.float() * F.log_softmax(logits.float(), dim=1)).sum(1)
    return ohem_select(per_pixel, None if valid is None else valid[:, 0], fraction, min_kept, threshold)


def multiclass_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None, eps: float = 1.0
) -> torch.Tensor:
    """Eq. 3 for each class on softmax probabilities, averaged over classes and the batch.

    Per-class Dice keeps a small class (hair on a short-haired face, a thin occluder) from
    being drowned by the face, which covers most of the crop.
    """
    p = torch.softmax(logits.float(), dim=1).flatten(2)
    g = target.float().flatten(2)
    if valid is not None:
        v = valid.float().flatten(2)
        p, g = p * v, g * v
    inter = (p * g).sum(2)
    return (1.0 - (2.0 * inter + eps) / (p.sum(2) + g.sum(2) + eps)).mean()


class SegmentLoss(torch.nn.Module):
    """Dice + OHEM pixel loss; returns the parts too, for logging.

    One logit channel: the old binary S (sigmoid, BCE, target (B,1,H,W) visible face). Three
    channels: the parser (softmax, CE, per-class Dice, target (B,3,H,W) soft classes).
    """

    def __init__(self, config: SegmentLossConfig = SegmentLossConfig()) -> None:
        super().__init__()
        self.config = config

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        c = self.config
        if logits.shape[1] > 1:
            dice = multiclass_dice_loss(logits, target, valid, c.dice_eps)
            ce = ohem_ce_loss(logits, target, valid, c.ohem_fraction, c.ohem_min_kept, c.ohem_threshold)
            return {"loss": c.dice_weight * dice + c.bce_weight * ce, "dice": dice, "ce_ohem": ce}
        dice = dice_loss(logits, target, valid, c.dice_eps)
        bce = ohem_bce_loss(logits, target, valid, c.ohem_fraction, c.ohem_min_kept, c.ohem_threshold)
        return {"loss": c.dice_weight * dice + c.bce_weight * bce, "dice": dice, "bce_ohem": bce}

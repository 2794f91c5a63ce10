"""Mask metrics as additive counts, so they sum over batches and across DDP ranks."""

from __future__ import annotations

import torch


def mask_counts(prob: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """(tp, fp, fn) pixel counts of ``prob >= threshold`` against ``target >= 0.5``, summed over the batch."""
    pred = prob >= threshold
    true = target >= 0.5
    tp = (pred & true).sum()
    fp = (pred & ~true).sum()
    fn = (~pred & true).sum()
    return torch.stack([tp, fp, fn]).double()


def precision_iou_recall(counts: torch.Tensor) -> dict[str, float]:
    """Micro-averaged (over all pixels of the set) precision, IoU and recall from (tp, fp, fn)."""
    tp, fp, fn = (float(v) for v in counts)
    return {
        "precision": tp / max(tp + fp, 1.0),
        "iou": tp / max(tp + fp + fn, 1.0),
        "recall": tp / max(tp + fn, 1.0),
    }

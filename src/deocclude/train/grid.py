"""Picture grids of predictions (rows of equally sized RGB tiles)."""

from __future__ import annotations

import numpy as np
import torch


def to_rgb_uint8(t: torch.Tensor) -> np.ndarray:
    """(3,H,W) or (1,H,W) or (H,W) tensor in [0,1] → H×W×3 uint8."""
    t = t.detach().float().cpu().clamp(0, 1)
    if t.ndim == 2:
        t = t[None]
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return (t.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def tile(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile rows of H×W×3 images with a white gap."""
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, ncol * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = img
    return out


def overlay(
    image: torch.Tensor, mask: torch.Tensor, colour: tuple[float, float, float] = (0.0, 1.0, 0.0), alpha: float = 0.45
) -> torch.Tensor:
    """Tint ``image`` (3,H,W) where ``mask`` (H,W or 1,H,W) is on."""
    m = mask.reshape(1, *image.shape[-2:]).float().clamp(0, 1) * alpha
    c = torch.tensor(colour, dtype=image.dtype, device=image.device).view(3, 1, 1)
    return image * (1 - m) + c * m

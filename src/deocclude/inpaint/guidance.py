"""R's render I_R made usable as guidance everywhere a fill may reach.

I_R is black outside the rendered face M_R. Both fills that follow it (the Poisson blend
and G) then see a hard dark edge at the face outline, and the automatic M_O, grown by a
few pixels, always crosses that outline along the jaw: the blend smeared it, G traced it
as a dark line (mixed protocol, 64 faces, automatic mask: SSIM 0.619 → 0.639 and no
contour line once G gets the render carried outwards). Carrying the render's own colours
over its background removes the edge without inventing structure there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch


def carry_outwards(render: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The rendered face's colours smoothly extended over its background (H, W, 3 float).

    A weighted average of the face pixels nearby (normalised Gaussian convolution), at
    widening scales until every pixel has one: the widest (σ = side / 2) is by far the
    costliest blur and a face crop never needs it (render_guidance at N = 256: 97 → 35 ms).
    """
    side = max(render.shape[:2])
    out = np.zeros(render.shape, np.float32)
    missing = np.ones(face.shape, bool)
    for sigma in (side / 32, side / 8, side / 2):
        if not missing.any():
            break
        weight = cv2.GaussianBlur(face, (0, 0), sigma)
        colour = cv2.GaussianBlur(render.astype(np.float32) * face[..., None], (0, 0), sigma)
        ok = missing & (weight > 1e-3)
        out[ok] = colour[ok] / weight[ok][:, None]
        missing &= ~ok
    return out


def render_guidance(render: np.ndarray, render_mask: np.ndarray | None) -> np.ndarray:
    """I_R (H, W, 3 uint8) with its empty background replaced by :func:`carry_outwards`.

    ``render_mask``: M_R (H, W), 1 = rendered face; None or all-face = the render as given.
    The face's outermost pixel ring is replaced too: the rasterizer blends it with the black
    background, and left in place it is exactly the dark outline this module removes.
    A render with no face pixel at all is returned unchanged (nothing to carry).
    """
    if render_mask is None:
        return render
    face = (np.asarray(render_mask) > 0.5).astype(np.float32)
    if face.all() or not face.any():
        return render
    core = cv2.erode(face, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    core = core if core.any() else face
    return np.where(core[..., None] > 0, render, carry_outwards(render, core) + 0.5).astype(np.uint8)


def render_guidance_tensor(renders: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """:func:`render_guidance` of (B, 3, H, W) renders in [0, 1] and their (B, 1, H, W) M_R,
    as float in [0, 1] on the CPU (through uint8, like the pipeline's renders)."""
    import torch

    out = [render_guidance((r.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8), m[0].numpy())
           for r, m in zip(renders.detach().float().cpu(), masks.detach().float().cpu())]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0

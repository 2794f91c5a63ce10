"""I_P: Poisson blending (Pérez et al. 2003) of the render I_R into I.

The training faces already carry real occlusions (bangs, hair over a cheek) with no
ground truth beneath. Cloning the rendered face's *gradients* into that region with
the photo's own boundary colours gives a weak target with the right structure (eyes,
nose where they should be) and roughly the right colour: what L_ssim compares against.

Our own solver, not ``cv2.seamlessClone``: with OpenCV 5.0.0 that call returned the
destination unchanged for masks inside the image (found when the blend was first used as
a fill: the sunglasses stayed). Blending is a Laplace problem: with f = I_R + u, the
guidance Δf = ΔI_R inside the region means Δu = 0 there, with u = I − I_R on its
boundary, so ``u`` is the harmonic interpolation of the colour difference, solved by
conjugate gradients on the region's pixels (tens of milliseconds for a 128 px face).
"""

from __future__ import annotations

import numpy as np

def _neighbour_sum(x: np.ndarray) -> np.ndarray:
    """Σ of the 4 neighbours of every pixel of an (H, W, C) array (0 outside the image)."""
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    return padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]


def harmonic_fill(values: np.ndarray, region: np.ndarray, iterations: int = 1000, tolerance: float = 0.02) -> np.ndarray:
    """Replace ``values`` (H, W, C) inside ``region`` (H, W bool) by the harmonic function
    that matches them on the region's boundary (image borders: zero normal derivative).

    Stops when the RMS residual per unknown pixel is below ``tolerance`` (in the units of
    ``values``: 0–255 intensities here, so 0.02 is far below one grey level).
    """
    inside = region.astype(bool)
    if not inside.any():
        return values.copy()
    ys, xs = np.nonzero(inside)  # solve on the region's bounding box (+1 px of boundary) only
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, inside.shape[0])
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, inside.shape[1])
    if (y0, x0, y1, x1) != (0, 0, *inside.shape):
        out = values.copy()
        out[y0:y1, x0:x1] = harmonic_fill(values[y0:y1, x0:x1], inside[y0:y1, x0:x1], iterations, tolerance)
        return out
    inside_f = inside.astype(np.float32)[..., None]
    degree = _neighbour_sum(np.ones(inside.shape + (1,), np.float32))  # 4, fewer on the image border
    known = values.astype(np.float32) * (1 - inside_f)
    b = _neighbour_sum(known) * inside_f

    def apply(x: np.ndarray) -> np.ndarray:  # the region's Laplacian system: deg·x − Σ inside neighbours
        return (degree * x - _neighbour_sum(x)) * inside_f

    x = _coarse_guess(values, inside, iterations, tolerance) * inside_f
    r = b - apply(x)
    p = r.copy()
    rs = (r * r).sum(axis=(0, 1))
    unknowns = max(float(inside.sum()), 1.0)
    for _ in range(iterations):
        ap = apply(p)
        alpha = rs / np.maximum((p * ap).sum(axis=(0, 1)), 1e-20)
        x = x + alpha * p
        r -= alpha * ap
        rs_new = (r * r).sum(axis=(0, 1))
        if np.all(np.sqrt(rs_new / unknowns) <= tolerance):
            break
        p = r + (rs_new / np.maximum(rs, 1e-20)) * p
        rs = rs_new
    return np.where(inside[..., None], x, values)


def _coarse_guess(values: np.ndarray, inside: np.ndarray, iterations: int, tolerance: float) -> np.ndarray:
    """A starting point for CG: the same problem solved at half resolution, upsampled.

    CG needs about as many iterations as the region is wide; solving the half-size problem
    first (recursively) leaves only the fine detail to the full-size iterations: several
    times faster on a 128 px face.
    """
    h, w = inside.shape
    if min(h, w) < 16:
        known = ~inside
        mean = values[known].mean(axis=0) if known.any() else np.zeros(values.shape[2], np.float32)
        return np.broadcast_to(mean, values.shape).astype(np.float32)
    h2, w2 = h // 2 * 2, w // 2 * 2
    blocks = values[:h2, :w2].reshape(h2 // 2, 2, w2 // 2, 2, -1).mean(axis=(1, 3))
    coarse_inside = inside[:h2, :w2].reshape(h2 // 2, 2, w2 // 2, 2).any(axis=(1, 3))
    coarse = harmonic_fill(blocks, coarse_inside, iterations, tolerance)
    up = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
    return np.pad(up, ((0, h - h2), (0, w - w2), (0, 0)), mode="edge").astype(np.float32)


def poisson_target(image: np.ndarray, render: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Blend ``render`` into ``image`` (both H×W×3 uint8) over ``region`` (H×W, > 0.5 = blend).

    Returns a copy of ``image`` where the region is empty; pixels outside the region are
    never changed.
    """
    inside = np.asarray(region) > 0.5
    if not inside.any():
        return image.copy()
    difference = image.astype(np.float64) - render.astype(np.float64)
    blended = render.astype(np.float64) + harmonic_fill(difference, inside)
    out = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return np.where(inside[..., None], out, image)

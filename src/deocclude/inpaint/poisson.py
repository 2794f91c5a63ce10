"""I_P: Poisson blending (Pérez et al. 2003) of the render I_R into I.

The training faces already carry real occlusions (bangs, hair over a cheek) with no
ground truth beneath. Cloning the rendered face's *gradients* into that region with
the photo's own boundary colours gives a weak target with the right structure (eyes,
nose where they should be) and roughly the right colour: what L_ssim compares against.

Our own solver, not ``cv2.seamlessClone``: with OpenCV 5.0.0 that call returned the
destination unchanged for masks inside the image (found when the blend was first used as
a fill: the sunglasses stayed). Blending is a Laplace problem: with f = I_R + u, the
guidance Δf = ΔI_R inside the region means Δu = 0 there, with u = I − I_R on its
boundary, so ``u`` is the harmonic interpolation of the colour difference: one sparse
linear solve over the region's pixels.
"""

from __future__ import annotations

import numpy as np


def harmonic_fill(values: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Replace ``values`` (H, W, C) inside ``region`` (H, W bool) by the harmonic function
    that matches them on the region's boundary (image borders: zero normal derivative).

    One sparse direct solve (SciPy's SuperLU) of the region's 4-neighbour Laplacian for all
    channels at once: ~10 ms for a sunglasses hole at N = 128, where conjugate gradients in
    NumPy took 20x longer.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    inside = np.asarray(region, bool)
    if not inside.any():
        return values.copy()
    h, w = inside.shape
    if inside.all():  # no boundary at all: nothing to interpolate from
        return values.copy()
    index = -np.ones((h, w), np.int64)
    ys, xs = np.nonzero(inside)
    index[ys, xs] = np.arange(len(ys))
    flat = values.reshape(h, w, -1).astype(np.float64)
    degree = np.zeros(len(ys))
    rhs = np.zeros((len(ys), flat.shape[2]))
    rows, cols = [], []
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ny, nx = ys + dy, xs + dx
        in_image = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)  # outside the image: no neighbour (Neumann)
        degree += in_image
        ny, nx, me = ny[in_image], nx[in_image], np.nonzero(in_image)[0]
        other = index[ny, nx]
        unknown = other >= 0
        rows.append(me[unknown])
        cols.append(other[unknown])
        np.add.at(rhs, me[~unknown], flat[ny[~unknown], nx[~unknown]])
    rows_all = np.concatenate([np.arange(len(ys)), *rows])
    cols_all = np.concatenate([np.arange(len(ys)), *cols])
    data = np.concatenate([degree, -np.ones(sum(len(r) for r in rows))])
    laplacian = coo_matrix((data, (rows_all, cols_all)), shape=(len(ys), len(ys))).tocsc()
    solution = splu(laplacian).solve(rhs)
    out = flat.copy()
    out[ys, xs] = solution
    return out.reshape(values.shape).astype(values.dtype, copy=False)


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

"""I_P: Poisson blending (Pérez et al. 2003) of the render I_R into I.

The training faces already carry real occlusions (bangs, hair over a cheek) with no
ground truth beneath. Cloning the rendered face's *gradients* into that region with
the photo's own boundary colours gives a weak target with the right structure (eyes,
nose where they should be) and roughly the right colour: what L_ssim compares against.

Our own solver, not ``cv2.seamlessClone``: with OpenCV 5.0.0 that call returned the
destination unchanged for masks inside the image (found when the blend was first used as
a fill: the sunglasses stayed). Blending is a Laplace problem: with f = I_R + u, the
guidance Δf = ΔI_R inside the region means Δu = 0 there, with u = I − I_R on its
boundary, so ``u`` is the harmonic interpolation of the colour difference.

That interpolation is solved by conjugate gradients preconditioned with one multigrid
V-cycle (:func:`harmonic_fill`), not by a sparse direct solve: the factorisation was most of
the default fill's time (issue 19), and the result is rounded to 8 bits anyway, so it
needs to be right to a fraction of a grey level, not to machine precision.
:func:`harmonic_fill_direct` is the exact solve it is measured against (tests,
``benchmarks/blend_speed.py``) and its fallback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

CROSS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)
"""The 4-neighbour sum as a filter kernel."""
JACOBI_WEIGHT = 0.8
"""Damped Jacobi smoothing: 4/5 damps the upper half of the 5-point Laplacian's spectrum best."""
FINE_SWEEPS, COARSE_SWEEPS = 2, 1
"""Jacobi sweeps before and after each coarse correction on the finest grid and on the others
(tuned on the faces of benchmarks/blend_speed.py: a second sweep on the coarse grids, which
numpy runs at 4-5x the cost per cell of the finest grid's OpenCV filter, saved too few steps)."""
OVER_CORRECTION = 1.8
"""The coarse grids are 2x2 aggregates (piecewise-constant interpolation), whose correction of a
smooth error comes out about half as large as it should: scaling it up is the classic remedy
(Braess 1995). 1.8 rather than 2 keeps the preconditioner B safely positive definite: on real M_O
at N = 128 the eigenvalues of B·A lie in [0.73, 1.91] with two grids above the coarsest and in
[0.59, 3.33] with four (tests/test_poisson.py checks B)."""
COARSEST_UNKNOWNS = 150
"""Coarsen until at most this many unknown cells are left, then solve them exactly (dense
Cholesky, under 0.3 ms); regions this small are solved exactly from the start."""
TOLERANCE = 0.5
"""Default accuracy of :func:`harmonic_fill` in the units of ``values``: grey levels for
:func:`poisson_target`, which rounds to whole ones (its real faces end within 0.32 of the exact
solve, at most one level apart after rounding)."""
MAX_ITERATIONS = 30
"""Conjugate-gradient steps before :func:`harmonic_fill` gives up and solves directly (the real
faces of benchmarks/blend_speed.py take 3 to 6 at N = 128, 4 to 8 at 256)."""


def harmonic_fill(values: np.ndarray, region: np.ndarray, tolerance: float = TOLERANCE,
                  max_iterations: int = MAX_ITERATIONS) -> np.ndarray:
    """Replace ``values`` (H, W, C) or (H, W) inside ``region`` (H, W bool) by the harmonic
    function that matches them on the region's boundary (image borders: zero normal derivative).

    Conjugate gradients on the region's 4-neighbour Laplacian (all channels at once, float32),
    preconditioned by a multigrid V-cycle, stopped once the V-cycle's estimate of the error left
    is below ``tolerance`` at every pixel. Only the region's bounding box plus a one-pixel ring
    is worked on; pixels outside ``region`` are returned unchanged. Not converged after
    ``max_iterations`` steps: a RuntimeWarning, and the exact :func:`harmonic_fill_direct` answers.
    """
    inside = np.asarray(region, bool)
    if not inside.any() or inside.all():  # nothing to fill, or no boundary to interpolate from
        return values.copy()
    rows, cols = _window(inside)
    out = values.reshape(*inside.shape, -1).copy()
    hole = inside[rows, cols]
    filled = _solve_window(out[rows, cols], hole, tolerance, max_iterations)
    if filled is None:
        warnings.warn(f"harmonic fill: not converged in {max_iterations} steps, solved directly", RuntimeWarning,
                      stacklevel=2)
        return harmonic_fill_direct(values, region)
    np.copyto(out[rows, cols], filled, casting="unsafe", where=hole[..., None])
    return out.reshape(values.shape)


def harmonic_fill_direct(values: np.ndarray, region: np.ndarray) -> np.ndarray:
    """:func:`harmonic_fill` by one sparse direct solve (SciPy's SuperLU) in float64: exact to
    rounding but several times slower (benchmarks/results/blend_speed.md). The reference the iterative
    solve is tested against, and its fallback."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    inside = np.asarray(region, bool)
    if not inside.any() or inside.all():
        return values.copy()
    h, w = inside.shape
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


def poisson_target(image: np.ndarray, render: np.ndarray, region: np.ndarray,
                   solve: Callable[[np.ndarray, np.ndarray], np.ndarray] = harmonic_fill) -> np.ndarray:
    """Blend ``render`` into ``image`` (both H×W×3 uint8) over ``region`` (H×W, > 0.5 = blend).

    Returns a copy of ``image`` where the region is empty; pixels outside the region are
    never changed (bit for bit: only the region's pixels are written). ``solve``: the harmonic
    fill, :func:`harmonic_fill_direct` for the exact reference.
    """
    inside = np.asarray(region) > 0.5
    out = image.copy()
    if not inside.any():
        return out
    rows, cols = _window(inside)
    guide = render[rows, cols].astype(np.float32)
    filled = solve(image[rows, cols].astype(np.float32) - guide, inside[rows, cols])
    blended = np.clip(np.rint(filled + guide), 0, 255).astype(np.uint8)
    np.copyto(out[rows, cols], blended, where=inside[rows, cols, None])
    return out


def _window(inside: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of ``inside`` (H, W bool, not empty) grown by one pixel, within the image.

    Exact for the solve: an unknown on the box's edge lies on the image's edge (else the ring
    holds its known neighbour), where the image has no neighbour either."""
    ys = np.flatnonzero(inside.any(axis=1))
    xs = np.flatnonzero(inside.any(axis=0))
    h, w = inside.shape
    return slice(max(ys[0] - 1, 0), min(ys[-1] + 2, h)), slice(max(xs[0] - 1, 0), min(xs[-1] + 2, w))


def _even(array: np.ndarray) -> np.ndarray:
    """``array`` zero-padded to even height and width (2x2 aggregation needs whole blocks)."""
    h, w = array.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return array
    out = np.zeros((h + h % 2, w + w % 2, *array.shape[2:]), array.dtype)
    out[:h, :w] = array
    return out


def _block_sum(a: np.ndarray) -> np.ndarray:
    """Sums of the 2x2 blocks of ``a`` (h, w), h and w even."""
    return a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]


def _cross_sum(field: np.ndarray) -> np.ndarray:
    """Sum of the 4 neighbours of every cell of ``field`` (h, w, C float32), zero beyond the grid."""
    return cv2.filter2D(field, -1, CROSS, borderType=cv2.BORDER_CONSTANT).reshape(field.shape)


@dataclass
class _Level:
    """One grid of the hierarchy: a weighted graph Laplacian on its unknown cells.

    ``unknown``, ``degree``, ``right``, ``down`` are (h, w) with h, w even (padded with cells
    outside everything). ``right[i, j]`` couples cells (i, j) and (i, j + 1), ``down[i, j]``
    (i, j) and (i + 1, j), both 0 unless both cells are unknown; ``degree`` is each unknown's
    diagonal: its couplings to every neighbour, known ones included (0 elsewhere). The ``*_c``
    arrays are those repeated over the C channels, (h, w, C), and ``right_f`` / ``down_f`` flat,
    so that every array operation is a same-shape contiguous loop: broadcasting a trailing axis
    of 3 made the whole solve several times slower. ``unit``: every coupling is 1 (the finest
    grid), so the neighbour sum is one OpenCV filter.
    """

    unknown: np.ndarray
    degree: np.ndarray
    right: np.ndarray
    down: np.ndarray
    unit: bool
    mask_c: np.ndarray
    degree_c: np.ndarray
    smoothing_c: np.ndarray
    """JACOBI_WEIGHT / degree on unknowns, 0 elsewhere."""
    prolong_c: np.ndarray
    """The coarse correction's scale on unknowns, 0 elsewhere (restriction averages 2x2 blocks
    where P^T sums them, hence 4 × OVER_CORRECTION)."""
    right_f: np.ndarray | None
    """Flat (h·w·C − C,): the coupling of each flat element to the one C further on (its right neighbour)."""
    down_f: np.ndarray | None
    """Flat (h·w·C − w·C,): the coupling to the element w·C further on (the cell below)."""
    scratch: np.ndarray
    """Flat (h·w·C,) float32 room for :meth:`neighbours`' products."""

    @classmethod
    def build(cls, unknown: np.ndarray, degree: np.ndarray, right: np.ndarray, down: np.ndarray, unit: bool,
              channels: int) -> _Level:
        """The grid of (h, w) ``unknown`` / ``degree`` / ``right`` / ``down`` for C = ``channels``."""
        unknown, degree, right, down = (_even(a) for a in (unknown, degree * unknown, right, down))

        def repeat(a: np.ndarray) -> np.ndarray:
            return np.repeat(a.astype(np.float32)[..., None], channels, axis=2)

        smoothing = np.divide(JACOBI_WEIGHT, degree, out=np.zeros(degree.shape, np.float32), where=unknown)
        width = right.shape[1] * channels
        return cls(unknown, degree, right, down, unit, repeat(unknown), repeat(degree), repeat(smoothing),
                   repeat(unknown * (4 * OVER_CORRECTION)),
                   None if unit else repeat(right).ravel()[:-channels], None if unit else repeat(down).ravel()[:-width],
                   np.empty(unknown.size * channels, np.float32))

    def neighbours(self, e: np.ndarray) -> np.ndarray:
        """Σ coupling × e over each cell's neighbours (h, w, C); on the unit grid also outside
        the unknowns, elsewhere 0 there."""
        if self.right_f is None or self.down_f is None:
            return _cross_sum(e)
        # on the flattened arrays a neighbour is a fixed offset: contiguous slices, numpy's fastest loops
        flat, t = e.reshape(-1), self.scratch
        s = np.empty_like(flat)
        step, row = e.shape[2], e.shape[1] * e.shape[2]
        np.multiply(self.right_f, flat[step:], out=s[:-step])
        s[-step:] = 0
        np.multiply(self.right_f, flat[:-step], out=t[:-step])
        s[step:] += t[:-step]
        np.multiply(self.down_f, flat[row:], out=t[:-row])
        s[:-row] += t[:-row]
        np.multiply(self.down_f, flat[:-row], out=t[:-row])
        s[row:] += t[:-row]
        return s.reshape(e.shape)

    def apply(self, e: np.ndarray) -> np.ndarray:
        """The Laplacian times ``e`` (h, w, C, zero outside the unknowns), zero outside them."""
        out = self.neighbours(e)
        np.subtract(self.degree_c * e, out, out=out)
        if self.unit:
            out *= self.mask_c
        return out

    def smooth(self, r: np.ndarray, e: np.ndarray | None = None, sweeps: int | None = None) -> np.ndarray:
        """``sweeps`` damped Jacobi steps on A e = r from ``e`` (None = zero; updated in place)."""
        sweeps = sweeps or (FINE_SWEEPS if self.unit else COARSE_SWEEPS)
        if e is None:
            e = self.smoothing_c * r
            sweeps -= 1
        for _ in range(sweeps):
            t = self.neighbours(e)
            t += r
            t *= self.smoothing_c
            cv2.scaleAdd(e, 1 - JACOBI_WEIGHT, t, dst=e)  # e = (1 - ω) e + ω (r + Σ neighbours) / degree
        return e

    def coarsen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The Galerkin operator P^T A P of 2x2 aggregation P: (unknown, degree, right, down) of
        the next grid. Couplings between blocks add up, a block's internal ones drop out of its
        diagonal: exact, so thin or ragged holes stay well represented on every grid."""
        right, down = self.right, self.down
        internal = right[0::2, 0::2] + right[1::2, 0::2] + down[0::2, 0::2] + down[0::2, 1::2]
        return (_block_sum(self.unknown) > 0, _block_sum(self.degree) - 2 * internal,
                right[0::2, 1::2] + right[1::2, 1::2], down[1::2, 0::2] + down[1::2, 1::2])


class _Coarsest:
    """The exact solve on the last grid: a dense Cholesky factor of its (n, n) Laplacian,
    n <= COARSEST_UNKNOWNS (positive definite: every connected part of a hole that is not the
    whole image has a known neighbour)."""

    def __init__(self, level: _Level) -> None:
        from scipy.linalg import cho_factor

        self.ys, self.xs = np.nonzero(level.unknown)
        n = len(self.ys)
        index = -np.ones(level.unknown.shape, np.int64)
        index[self.ys, self.xs] = np.arange(n)
        matrix = np.diag(level.degree[self.ys, self.xs].astype(np.float64))
        for a, b, coupling in ((index[:, :-1], index[:, 1:], level.right[:, :-1]),
                               (index[:-1], index[1:], level.down[:-1])):
            both = (a >= 0) & (b >= 0)
            matrix[a[both], b[both]] = matrix[b[both], a[both]] = -coupling[both]
        self.factor = cho_factor(matrix, check_finite=False)

    def __call__(self, r: np.ndarray) -> np.ndarray:
        from scipy.linalg import cho_solve

        e = np.zeros_like(r)
        e[self.ys, self.xs] = cho_solve(self.factor, r[self.ys, self.xs], check_finite=False)
        return e


def _v_cycle(levels: list[_Level], coarsest: _Coarsest, r: np.ndarray, k: int = 0) -> np.ndarray:
    """One V-cycle for A e = r (h, w, C, zero outside the unknowns) on grid ``k``: an approximate
    A⁻¹ r, zero outside the unknowns. A symmetric operator (the same smoothing before and after,
    restriction the transpose of prolongation up to the scale), as conjugate gradients need."""
    if k == len(levels):
        return coarsest(r)
    level = levels[k]
    e = level.smooth(r)
    h, w, c = e.shape
    residual = r - level.apply(e)
    coarse_r = cv2.resize(residual, (w // 2, h // 2), interpolation=cv2.INTER_AREA).reshape(h // 2, w // 2, c)
    coarse = _v_cycle(levels, coarsest, _even(coarse_r), k + 1)[: h // 2, : w // 2]
    e += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST).reshape(h, w, c) * level.prolong_c
    return level.smooth(r, e)


def _hierarchy(inside: np.ndarray, channels: int) -> tuple[list[_Level], _Coarsest]:
    """The grids of the harmonic fill of ``inside`` (h, w bool, every unknown's neighbours in the
    window or beyond the image), finest first, coarsened until at most COARSEST_UNKNOWNS unknowns
    are left, and the exact solver of that last grid (then no longer in the list)."""
    h, w = inside.shape
    # the padding to even sides is outside the image: no neighbour there, as beyond its borders
    degree = _cross_sum(_even(np.ones((h, w, 1), np.float32)))[..., 0]
    unknown = _even(inside)
    right = np.zeros(unknown.shape, np.float32)
    right[:, :-1] = unknown[:, :-1] & unknown[:, 1:]
    down = np.zeros(unknown.shape, np.float32)
    down[:-1] = unknown[:-1] & unknown[1:]
    levels = [_Level.build(unknown, degree, right, down, True, channels)]
    while np.count_nonzero(levels[-1].unknown) > COARSEST_UNKNOWNS:
        levels.append(_Level.build(*levels[-1].coarsen(), False, channels))
    return levels, _Coarsest(levels.pop())


def _solve_window(values: np.ndarray, inside: np.ndarray, tolerance: float, max_iterations: int) -> np.ndarray | None:
    """``values`` (h, w, C) harmonically filled inside ``inside`` (h, w bool, not empty, every
    unknown's neighbours in the window or beyond the image), as (h, w, C) float32; None if the
    iteration did not converge."""
    h, w, channels = values.shape
    levels, coarsest = _hierarchy(inside, channels)
    fine = levels[0] if levels else None
    field = _even(np.where(inside[..., None], 0, values).astype(np.float32))
    r = _cross_sum(field)  # A x = the known neighbours' sum on each unknown; x = 0 to start
    if fine is None:  # a tiny region: the exact solve is the answer
        return (field + coarsest(r))[:h, :w]
    r *= fine.mask_c
    x = np.zeros_like(r)
    z = _v_cycle(levels, coarsest, r)
    p, rz, steps = None, 0.0, 0
    while cv2.norm(z, cv2.NORM_INF) > tolerance:  # z ≈ A⁻¹ r: the error left in x
        if steps == max_iterations:
            return None
        steps += 1
        rz_next = float(r.ravel() @ z.ravel())
        p = z.copy() if p is None else cv2.scaleAdd(p, rz_next / rz, z, dst=p)
        rz = rz_next
        ap = fine.apply(p)
        step = rz / float(p.ravel() @ ap.ravel())
        cv2.scaleAdd(p, step, x, dst=x)
        cv2.scaleAdd(ap, -step, r, dst=r)
        z = _v_cycle(levels, coarsest, r)
    field += x
    field += z  # the estimate, added: one more correction for free
    return field[:h, :w]

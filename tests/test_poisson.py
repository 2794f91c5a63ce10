"""The harmonic fill behind the default blend (inpaint/poisson.py): the multigrid-preconditioned
conjugate gradients against the exact sparse solve on real faces, and the do-no-harm rule.

The faces are the bundled examples through the real S and R (M_O, I_R, M_R at N = 128).
Tolerance, inside M_O: max |new − exact| <= 2 grey levels and mean <= 0.2; outside M_O the
input, bit for bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from deocclude.face_batch import FaceBatch, tensor_to_images
from deocclude.imageio import read_image
from deocclude.inpaint import poisson
from deocclude.inpaint.classical import prior_blend, prior_guidance
from deocclude.inpaint.poisson import harmonic_fill, harmonic_fill_direct, poisson_target
from deocclude.paths import REPO_DIR

MAX_DIFF, MEAN_DIFF = 2, 0.2


@pytest.fixture(scope="module")
def batch() -> FaceBatch:
    """Every example photo's faces with S's M_O and R's render."""
    from deocclude.pipeline import Deoccluder, DeoccluderConfig, face_batch

    deoccluder = Deoccluder(DeoccluderConfig(fill="telea"))
    faces = [face for path in sorted((REPO_DIR / "examples").glob("*.jpg"))
             for face in deoccluder.find_occlusions(deoccluder.find_faces(read_image(path)))]
    found = face_batch([face for face in faces if face.status == "ok" and face.render is not None])
    assert found.occlusion is not None and found.render is not None and found.region is not None
    assert (found.occlusion > 0.5).sum(axis=(1, 2)).max() > 4000  # sunglasses / a mask: a real solve
    return found


@contextmanager
def _converging() -> Iterator[None]:
    """The iterative solve must converge by itself: its fallback to the exact one would hide a failure."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "harmonic fill: not converged", RuntimeWarning)
        yield


def _blend(crop: np.ndarray, guide: np.ndarray, hole: np.ndarray) -> np.ndarray:
    with _converging():
        return poisson_target(crop, guide, hole)


def _guidance(batch: FaceBatch, i: int, hole: np.ndarray) -> np.ndarray:
    """Face ``i``'s I_R as the prior fill blends it into ``hole``."""
    assert batch.render is not None and batch.region is not None
    return prior_guidance(hole, batch.render[i], batch.region[i])


def _largest(batch: FaceBatch) -> int:
    """The face with the largest M_O."""
    assert batch.occlusion is not None
    return int(np.argmax((batch.occlusion > 0.5).sum(axis=(1, 2))))


def _check(blended: np.ndarray, exact: np.ndarray, image: np.ndarray, hole: np.ndarray) -> None:
    inside = hole > 0.5
    assert np.array_equal(blended[~inside], image[~inside])  # do no harm: bit for bit
    diff = np.abs(blended.astype(int) - exact.astype(int))[inside]
    assert diff.size == 0 or (diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF), (diff.max(), diff.mean())


def test_blend_matches_the_exact_solve_on_real_faces(batch: FaceBatch) -> None:
    assert batch.occlusion is not None
    for i, (crop, hole) in enumerate(zip(batch.crops, batch.occlusion)):
        guide = _guidance(batch, i, hole)
        _check(_blend(crop, guide, hole), poisson_target(crop, guide, hole, solve=harmonic_fill_direct),
               crop, hole)


def test_hole_touching_the_border(batch: FaceBatch) -> None:
    """M_O run into the crop's edges (the image border is a free edge, no neighbour beyond it)."""
    assert batch.occlusion is not None
    i = _largest(batch)
    crop, hole = batch.crops[i], batch.occlusion[i].copy()
    hole[-10:, :] = 1  # the whole bottom edge
    hole[:40, :3] = 1  # and part of the left one
    guide = _guidance(batch, i, hole)
    blended = _blend(crop, guide, hole)
    _check(blended, poisson_target(crop, guide, hole, solve=harmonic_fill_direct), crop, hole)
    corner = np.zeros(hole.shape, np.float32)
    corner[:30, :30] = 1  # a corner: two free edges, the rest bounded by the photo
    _check(_blend(crop, guide, corner), poisson_target(crop, guide, corner, solve=harmonic_fill_direct),
           crop, corner)


def test_empty_hole_returns_the_image(batch: FaceBatch) -> None:
    crop = batch.crops[0]
    empty = np.zeros(crop.shape[:2], np.float32)
    guide = _guidance(batch, 0, empty)
    out = poisson_target(crop, guide, empty)
    assert np.array_equal(out, crop) and out is not crop
    values = crop.astype(np.float64)
    assert np.array_equal(harmonic_fill(values, empty > 0.5), values)
    everything = np.ones(crop.shape[:2], bool)  # no boundary to interpolate from: unchanged
    assert np.array_equal(harmonic_fill(values, everything), values)


def test_batch_of_several_faces_through_the_prior_fill(batch: FaceBatch) -> None:
    """The default fill over a batch (every example face, and each with a second, larger hole)
    is the exact blend of each face within the tolerance."""
    from deocclude.fills import make_fill

    assert batch.occlusion is not None
    grown = batch.occlusion.copy()
    grown[:, 40:70, 20:110] = 1  # a band over the eyes of every face, joined to its M_O
    for occlusion in (batch.occlusion, grown):
        faces = batch.with_occlusion(occlusion)
        with _converging():
            out = tensor_to_images(make_fill("prior", true_colour=False)(faces))  # the blend, not its colour rule
        assert len(out) == len(batch.crops) >= 2
        for i, (crop, hole) in enumerate(zip(batch.crops, occlusion)):
            exact = prior_blend(crop, hole, batch.render[i], batch.region[i], solve=harmonic_fill_direct)
            _check(out[i], exact, crop, hole)


def test_not_converged_falls_back_to_the_exact_solve(batch: FaceBatch) -> None:
    assert batch.occlusion is not None
    i = _largest(batch)
    hole = batch.occlusion[i] > 0.5
    values = batch.crops[i].astype(np.float64) - _guidance(batch, i, hole)
    with pytest.warns(RuntimeWarning, match="not converged in 0 steps"):
        fallback = harmonic_fill(values, hole, max_iterations=0)
    assert np.array_equal(fallback, harmonic_fill_direct(values, hole))


def test_grey_values(batch: FaceBatch) -> None:
    """(H, W) values: one channel, the same solve."""
    assert batch.occlusion is not None
    i = _largest(batch)
    grey = batch.crops[i].mean(axis=2)
    hole = batch.occlusion[i] > 0.5
    with _converging():
        out = harmonic_fill(grey, hole)
    assert out.shape == grey.shape and np.array_equal(out[~hole], grey[~hole])
    assert np.abs(out - harmonic_fill_direct(grey, hole))[hole].max() < poisson.TOLERANCE


def test_small_holes() -> None:
    """A hole of a few pixels is solved exactly (no grids to coarsen)."""
    values = np.arange(64, dtype=np.float64).reshape(8, 8) ** 1.5
    hole = np.zeros((8, 8), bool)
    hole[3, 4] = True
    out = harmonic_fill(values, hole)
    assert out.shape == (8, 8)
    assert out[3, 4] == pytest.approx((values[2, 4] + values[4, 4] + values[3, 3] + values[3, 5]) / 4, rel=1e-6)
    assert np.array_equal(out[~hole], values[~hole])
    hole[0, :3] = True  # on the border too
    assert np.allclose(harmonic_fill(values, hole), harmonic_fill_direct(values, hole), atol=1e-3)


def test_the_preconditioner_is_symmetric_positive_definite(batch: FaceBatch, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conjugate gradients need it: the V-cycle with its over-corrected coarse grids, as a
    matrix on a real M_O (a window of the largest hole, coarsened down to 16 unknowns so
    every kind of grid takes part)."""
    monkeypatch.setattr(poisson, "COARSEST_UNKNOWNS", 16)
    assert batch.occlusion is not None
    hole = batch.occlusion[_largest(batch)] > 0.5
    ys, xs = np.nonzero(hole)
    inside = hole[ys.min():ys.min() + 40, xs.min():xs.min() + 40].copy()
    inside[[0, -1]] = inside[:, [0, -1]] = False  # its ring known
    levels, coarsest = poisson._hierarchy(inside, 1)
    assert len(levels) >= 3
    cells = np.argwhere(levels[0].unknown)
    assert len(cells) > 300
    matrix = np.zeros((len(cells), len(cells)))
    for k, (y, x) in enumerate(cells):
        unit = np.zeros((*levels[0].unknown.shape, 1), np.float32)
        unit[y, x] = 1
        matrix[:, k] = poisson._v_cycle(levels, coarsest, unit)[cells[:, 0], cells[:, 1], 0]
    assert np.abs(matrix - matrix.T).max() < 1e-5 * np.abs(matrix).max()
    assert np.linalg.eigvalsh((matrix + matrix.T) / 2).min() > 0


def test_inside_the_face_the_blend_takes_its_colours_from_the_visible_face_only() -> None:
    """A hole over the lower face that runs off the face onto a dark collar: with ``face_boundary`` the fill
    inside M_R keeps the skin's colour (the collar's does not bleed in), past M_R it still meets the
    collar, and no pixel outside the hole changes."""
    n = 128
    skin, collar = np.array([200, 150, 120]), np.array([30, 30, 40])
    yy, xx = np.mgrid[:n, :n]
    region = (((yy - 56) / 52.0) ** 2 + ((xx - 64) / 44.0) ** 2 <= 1).astype(np.float32)
    image = np.empty((n, n, 3), np.uint8)
    image[:] = collar
    image[region > 0] = skin
    render = np.empty_like(image)
    render[:] = skin  # I_R: a flat face, so the blend's colours come from the boundary alone
    hole = ((yy >= 70) & (np.abs(xx - 64) <= 36)).astype(np.float32)  # from the cheeks to the crop's bottom
    plain = prior_blend(image, hole, render, region, face_boundary=False)
    faced = prior_blend(image, hole, render, region, face_boundary=True)
    deep = (hole > 0) & (region > 0) & (yy <= 90)  # the face inside the hole, away from its outline
    assert np.abs(faced[deep].astype(float) - skin).mean() < 6
    assert np.abs(plain[deep].astype(float) - skin).mean() > 20  # the collar bled in
    past = (hole > 0) & (region == 0) & (yy >= 120)
    assert np.abs(faced[past].astype(float) - collar).mean() < np.abs(faced[past].astype(float) - skin).mean()
    assert np.array_equal(faced[hole == 0], image[hole == 0])

"""Classical inpainting baselines (OpenCV Telea and Navier-Stokes).

They are the paper's reference points that need no training, the fill of the pipeline
until G's weights exist, and rows of the evaluation table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import cv2
import numpy as np

ClassicalMethod = Literal["telea", "navier-stokes"]
_FLAGS = {"telea": cv2.INPAINT_TELEA, "navier-stokes": cv2.INPAINT_NS}


def classical_inpaint(
    image: np.ndarray, hole: np.ndarray, method: ClassicalMethod = "telea", radius: float | None = None
) -> np.ndarray:
    """Fill ``hole`` (H×W, 1 = missing) of an RGB uint8 image; pixels outside the hole are kept exactly.

    ``radius`` defaults to 3 % of the image side, about the width of a sunglasses frame
    in a 128-px crop.
    """
    if method not in _FLAGS:
        raise ValueError(f"unknown classical inpainting method {method!r}; choose from {sorted(_FLAGS)}")
    binary = (np.asarray(hole) > 0.5).astype(np.uint8)
    if not binary.any():
        return image.copy()
    radius = radius if radius is not None else max(3.0, 0.03 * max(image.shape[:2]))
    filled = cv2.inpaint(image, binary, radius, _FLAGS[method])
    return np.where(binary[..., None] > 0, filled, image)


FACE_RAMP = 0.03
"""Share of the crop side over which :func:`prior_blend` passes, inside M_R, from the whole-boundary blend at
M_R's outline to the face-boundary one (4 px at N = 128)."""


def prior_blend(
    image: np.ndarray, hole: np.ndarray, render: np.ndarray, render_mask: np.ndarray | None = None,
    face_boundary: bool = True, solve: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Fill ``hole`` with R's render I_R, Poisson-blended into ``image`` (1 = fill in ``hole``).

    The render carries the face's structure (eyes, brows, mouth where R puts them), the
    blend takes its colours from the hole's boundary: what the paper uses as G's L_ssim
    target I_P, and a fill in its own right that needs no generator. The render is blended
    as :func:`prior_guidance` makes it.

    ``face_boundary`` (with ``render_mask`` M_R): inside M_R the colours come from the visible face
    only. Where the hole meets what lies off the face (a jacket under the jaw, a hood, the background
    beside a cheek, the rest of a face mask), the plain blend carries those colours into the face:
    an orange band over a dark collar, a purple cast from a hood. Here a second blend leaves
    everything off the face free (no boundary value: the visible face alone decides the colour) and
    replaces the first inside M_R, fading to it over :data:`FACE_RAMP` of the crop at M_R's outline,
    so the parts of the hole past the face keep their own boundary and no seam appears.

    ``solve``: the harmonic fill (default :func:`~deocclude.inpaint.poisson.harmonic_fill`; the exact
    :func:`~deocclude.inpaint.poisson.harmonic_fill_direct` for reference).
    """
    from deocclude.inpaint.poisson import harmonic_fill, poisson_target

    solve = solve or harmonic_fill
    guide = prior_guidance(hole, render, render_mask)
    blended = poisson_target(image, guide, hole, solve)
    if not face_boundary or render_mask is None:
        return blended
    inside, face = np.asarray(hole) > 0.5, np.asarray(render_mask) > 0.5
    free = inside | ~face
    if not (inside & face).any() or free.all() or not _touches(inside, ~face):
        return blended  # the hole lies within the face: its whole boundary is face already
    face_only = poisson_target(image, guide, free, solve)
    depth = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 3)
    weight = np.clip(depth / max(FACE_RAMP * image.shape[0], 1.0), 0.0, 1.0)[..., None]
    mixed = np.rint(weight * face_only.astype(np.float32) + (1.0 - weight) * blended.astype(np.float32))
    return np.where(inside[..., None], mixed.astype(np.uint8), image)


def _touches(inside: np.ndarray, other: np.ndarray) -> bool:
    """Whether ``inside`` (H, W bool) has a 4-neighbour in ``other`` (H, W bool)."""
    grown = cv2.dilate(inside.astype(np.uint8), np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)) > 0
    return bool((grown & other).any())


def prior_guidance(hole: np.ndarray, render: np.ndarray, render_mask: np.ndarray | None = None) -> np.ndarray:
    """What :func:`prior_blend` blends into ``hole`` (H×W, 1 = fill): ``render`` (H×W×3 uint8),
    unless the hole leaves the rendered face (``render_mask`` M_R 0: glasses temples, hair),
    where the render's empty background is replaced by its own colours carried outwards
    (:func:`deocclude.inpaint.guidance.render_guidance`), so the guidance has no edge at the
    face outline and the photo's rim colours take over there."""
    from deocclude.inpaint.guidance import render_guidance

    if render_mask is not None and ((np.asarray(render_mask) <= 0.5) & (np.asarray(hole) > 0.5)).any():
        return render_guidance(render, render_mask)
    return render

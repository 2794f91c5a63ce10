"""Classical inpainting baselines (OpenCV Telea and Navier-Stokes).

They are the paper's reference points that need no training, the fill of the pipeline
until G's weights exist, and rows of the evaluation table.
"""

from __future__ import annotations

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


def prior_blend(
    image: np.ndarray, hole: np.ndarray, render: np.ndarray, render_mask: np.ndarray | None = None
) -> np.ndarray:
    """Fill ``hole`` with R's render I_R, Poisson-blended into ``image`` (1 = fill in ``hole``).

    The render carries the face's structure (eyes, brows, mouth where R puts them), the
    blend takes its colours from the hole's boundary: what the paper uses as G's L_ssim
    target I_P, and a fill in its own right that needs no generator. The render is blended
    as :func:`prior_guidance` makes it.
    """
    from deocclude.inpaint.poisson import poisson_target

    return poisson_target(image, prior_guidance(hole, render, render_mask), hole)


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

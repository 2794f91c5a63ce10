"""I_P: Poisson blending (Pérez et al. 2003, ``cv2.seamlessClone``) of the render I_R into I.

The training faces already carry real occlusions (bangs, hair over a cheek) with no
ground truth beneath. Cloning the rendered face's *gradients* into that region with
the photo's own boundary colours gives a weak target with the right structure (eyes,
nose where they should be) and roughly the right colour: what L_ssim compares against.
"""

from __future__ import annotations

import cv2
import numpy as np

_MARGIN = 8  # seamlessClone refuses masks touching the border; pad, clone, crop back


def poisson_target(image: np.ndarray, render: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Blend ``render`` into ``image`` (both H×W×3 uint8) over ``region`` (H×W, > 0.5 = blend).

    Returns a copy of ``image`` where the region is empty; pixels outside the region are
    never changed.
    """
    mask = (np.asarray(region) > 0.5).astype(np.uint8) * 255
    if not mask.any():
        return image.copy()
    m = _MARGIN
    dst = cv2.copyMakeBorder(image, m, m, m, m, cv2.BORDER_REFLECT)
    src = cv2.copyMakeBorder(render, m, m, m, m, cv2.BORDER_REFLECT)
    pad_mask = cv2.copyMakeBorder(mask, m, m, m, m, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(pad_mask)
    # seamlessClone places the mask's bounding box centred on `center`; this centre maps src
    # pixel (i, j) onto dst pixel (i, j), i.e. no shift (OpenCV computes it as x + w // 2).
    center = (x + w // 2, y + h // 2)
    out = cv2.seamlessClone(src, dst, pad_mask, center, cv2.NORMAL_CLONE)[m:-m, m:-m]
    return np.where(mask[..., None] > 0, out, image)

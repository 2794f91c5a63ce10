"""M_O from the raw disagreement of R and S: the one recipe the pipeline and G's training share.

The pipeline finds ``occluded = M_R ⊙ (1 − M_F)`` and shapes it before any fill sees it;
``deocclude train inpaint --hole pipeline`` trains G on holes shaped the same way (grown
rims past M_R, no bare outline ring) instead of the paper's raw hole.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from deocclude.masks import DEFAULT_DILATE
from deocclude.masks.outline import DEFAULT_OUTLINE_BAND, DEFAULT_RIM_DEPTH, drop_outline_rim, drop_shallow_rims

DEFAULT_RIM_CONFIDENCE = 1.0
"""M_O's dilation ring takes pixels S is less sure than this are visible face (1 = all: plain dilation)."""
DEFAULT_HOLE_CONFIDENCE = 0.9
"""Mean P(visible) a hole enclosed by M_O needs to stay visible (:func:`fill_unsure_holes`)."""


def _holes(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(label count, labels, which labels are holes) of the 4-connected unoccluded patches of ``mask``.

    A hole is a patch that the mask surrounds on every side: it does not reach the image border.
    Label 0 (the mask itself) is never a hole.
    """
    occluded = (np.asarray(mask) > 0.5).astype(np.uint8)
    count, labels = cv2.connectedComponents(1 - occluded, connectivity=4)
    labels = np.asarray(labels, np.int32)
    hole = np.ones(count, bool)
    hole[0] = False
    hole[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = False
    return count, labels, hole


def enclosed_holes(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of every hole ``mask`` (1 = occluded) encloses (see :func:`_holes`)."""
    _, labels, hole = _holes(mask)
    return hole[labels]


def fill_unsure_holes(mask: np.ndarray, visible: np.ndarray, min_confidence: float) -> np.ndarray:
    """``mask`` (H, W, 1 = occluded) with every hole it encloses filled unless S is sure the hole is face.

    A hole is a 4-connected patch of unoccluded pixels that M_O surrounds on every side (it does
    not reach the crop border). Behind a tinted or grey lens S still half sees the eye (mean
    P(visible) 0.64-0.72 in the bundled sunglasses example), so the lens centre stayed as it was
    while the frame around it was filled, and the fill blended the dark lens into a ghost. Through
    clear glasses the eye is plain face (P near 1) and is kept. uint8 0/1 back.
    """
    occluded = (np.asarray(mask) > 0.5).astype(np.uint8)
    count, labels, hole = _holes(occluded)
    if not hole.any():
        return occluded
    sums = np.bincount(labels.ravel(), weights=np.asarray(visible, np.float64).ravel(), minlength=count)
    sizes = np.bincount(labels.ravel(), minlength=count)
    unsure = hole & (sums / np.maximum(sizes, 1) < min_confidence)
    return (occluded | unsure[labels]).astype(np.uint8)


def grow_over_unsure(mask: np.ndarray, radius: int, visible: np.ndarray | None,
                     rim_confidence: float) -> np.ndarray:
    """(H, W) uint8 ``mask`` grown by a ``radius`` px disk, but only over pixels where S's ``visible``
    probability (H, W) is below ``rim_confidence`` (``visible`` None or ``rim_confidence`` ≥ 1: plain
    dilation).

    Why: the plain disk takes the occluder's soft rim, its shadow and the frame's anti-aliased
    edge (where S hesitates) together with the clear skin beside a sharp edge (where S is sure).
    Clear skin is the repainted face the user sees and the pixels that cost M_O its precision.
    """
    k = 2 * radius + 1
    grown = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if visible is None or rim_confidence >= 1.0:
        return grown
    return (mask.astype(bool) | (grown.astype(bool) & (np.asarray(visible) < rim_confidence))).astype(np.uint8)


def shape_occlusion(occluded: np.ndarray, region: np.ndarray, valid: np.ndarray,
                    outline_band: int = DEFAULT_OUTLINE_BAND, dilate: int = DEFAULT_DILATE,
                    extend: Callable[[np.ndarray], np.ndarray] | None = None,
                    rim_depth: float = DEFAULT_RIM_DEPTH, visible: np.ndarray | None = None,
                    hole_confidence: float = DEFAULT_HOLE_CONFIDENCE,
                    rim_confidence: float = DEFAULT_RIM_CONFIDENCE) -> np.ndarray:
    """(H, W) float32 M_O (1 = occluded) from a raw occlusion map (H, W, truthy = occluded).

    In order: a 3×3 opening (the one-pixel rim where S and the face surface disagree along
    the outline; val: M_O IoU 0.802 → 0.814), :func:`drop_shallow_rims` (components on the
    outline less than ``rim_depth`` · N deep), :func:`drop_outline_rim` in ``outline_band``
    px of M_R's outline (``region``), ``extend`` (the pipeline's growth past M_R, or None),
    then a ``dilate`` px disk so occluder edges go too (with ``visible``: only over pixels S is
    less than ``rim_confidence`` sure are visible face, see :func:`grow_over_unsure`),
    :func:`fill_unsure_holes` when S's ``visible`` probability (H, W) is given, and never outside
    the real photo (``valid``).
    """
    mask = cv2.morphologyEx((np.asarray(occluded) > 0.5).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = drop_shallow_rims(mask, region, rim_depth * mask.shape[0])
    mask = drop_outline_rim(mask, region, outline_band)
    if extend is not None and mask.any():
        mask = extend(mask).astype(np.uint8)
    if dilate and mask.any():
        mask = grow_over_unsure(mask, dilate, visible, rim_confidence)
    if visible is not None and mask.any():
        mask = fill_unsure_holes(mask, visible, hole_confidence)
    return mask.astype(np.float32) * (np.asarray(valid) > 0.5)

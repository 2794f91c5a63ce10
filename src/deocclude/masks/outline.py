"""Keep M_O off the face outline where nothing occludes it.

R's face surface M_R and S's visible face M_F never agree exactly along the outline: M_R
overshoots onto background, neck or hair by a few pixels, S calls those pixels "not
face", and M_R ⊙ (1 − M_F) holds a thin ring along the jaw and cheeks. The fill then
repaints the face outline of nearly every photo (and G, following the render's black
edge there, drew a dark line along it). :func:`drop_outline_rim` keeps a pixel of that
band only where it continues occlusion found deeper inside the face, so an occluder
crossing the outline (a hand, a mask, a temple) is still removed in full.

Measured on the first 160 faces of each protocol, automatic M_O vs the true occlusion
(IoU / precision / recall; ``deocclude eval --protocol mixed --limit 160 --outline-band B``):
band 0 (off) mixed 0.428 / 0.435 / 0.946, sunglasses 0.446 / 0.453 / 0.957;
band 5 mixed 0.500 / 0.511 / 0.938, sunglasses 0.542 / 0.555 / 0.956;
**band 7** mixed 0.525 / 0.544 / 0.931, sunglasses 0.569 / 0.587 / 0.955;
band 9 mixed 0.533 / 0.558 / 0.926 (recall falls faster from here: the default is 7).
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_OUTLINE_BAND = 7
"""Crop pixels inside the face outline (at N = 128) where M_O must touch deeper occlusion."""
DEFAULT_RIM_DEPTH = 0.1
"""An M_O component touching the outline must reach this share of the crop side N into M_R (12.8 px
at 128), else it is a rim (:func:`drop_shallow_rims`)."""


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def drop_outline_rim(mask: np.ndarray, region: np.ndarray, band: int = DEFAULT_OUTLINE_BAND) -> np.ndarray:
    """``mask`` (H×W, 1 = occluded) without the pixels within ``band`` px of the outline of
    ``region`` (M_R, 1 = face surface) that lie farther than ``band + 2`` px from occlusion
    deeper inside. Pixels outside ``region`` and deeper ones are kept; uint8 0/1 back.
    """
    occluded = (np.asarray(mask) > 0.5).astype(np.uint8)
    if band <= 0 or not occluded.any():
        return occluded
    inner = np.asarray(cv2.erode((np.asarray(region) > 0.5).astype(np.uint8), _disk(band)), np.uint8)
    core = occluded & inner
    near_core = cv2.dilate(core, _disk(band + 2)) if core.any() else core
    band_pixels = (np.asarray(region) > 0.5) & (inner == 0)
    return (occluded & ~(band_pixels & (near_core == 0))).astype(np.uint8)


def drop_shallow_rims(mask: np.ndarray, region: np.ndarray, min_depth: float) -> np.ndarray:
    """``mask`` (H×W, 1 = occluded) without its components that touch the outline of ``region``
    (M_R) but reach no more than ``min_depth`` px into it; uint8 0/1 back.

    Why per component: where the mesh puts the chin below the real jaw (a beard, a raised
    head) or the cheek past the real outline, M_R ⊙ (1 − M_F) holds a band of neck, shadow
    or background 8-15 px deep, deeper than :func:`drop_outline_rim`'s band, and the fill
    drew a new jaw onto the neck (wild photos img18, img36, couple: bands 11-15 px deep;
    real occluders that cross the outline, masks and hands, reach 50+ px). The crop's edge is
    outline too (a chin cut off by the crop). A component inside the face (a lens, not touching
    the outline) is never dropped here.
    """
    occluded = (np.asarray(mask) > 0.5).astype(np.uint8)
    inside = (np.asarray(region) > 0.5).astype(np.uint8)
    if min_depth <= 0 or not occluded.any():
        return occluded
    # px to M_R's outline inside it, 0 outside; the crop's edge counts as outline, since where the
    # crop cuts the chin off the band of neck runs along it
    depth = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    count, found = cv2.connectedComponents(occluded, connectivity=8)
    labels = np.asarray(found, np.int32)
    deepest = np.zeros(count, np.float32)
    np.maximum.at(deepest, labels, depth)
    touches = np.zeros(count, bool)
    touches[np.unique(labels[(occluded > 0) & (depth <= 2.0)])] = True
    shallow = touches & (deepest <= min_depth)
    shallow[0] = False
    return (occluded & ~shallow[labels]).astype(np.uint8)

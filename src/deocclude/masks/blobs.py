"""Isolated blobs inside clear skin are not occlusion.

On real photos S's "not face" spots on bare skin — highlights, blush, moles, the shadowed
side of a nose — came out as round M_O blobs that the fill repainted (wild ``t1`` face 4,
issue 15). A real occluder either is large or touches other non-face pixels (a lens is
framed by its frame, a mask reaches the jaw, a hand comes from outside the face). So a
connected component of the raw occlusion map is dropped when it is small *and* the ring
around it is clear visible face.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_MAX_BLOB = 0.03
"""Largest component dropped, as a share of the face surface M_R."""
RING = 3
"""Width in crop pixels of the ring inspected around a component."""
CLEAR_RING = 0.9
"""Share of the ring that must be visible face for the component to count as a skin blob."""


def drop_skin_blobs(occluded: np.ndarray, region: np.ndarray, visible: np.ndarray, threshold: float,
                    max_blob: float = DEFAULT_MAX_BLOB) -> np.ndarray:
    """``occluded`` (H, W; truthy = occluded) without its small components enclosed by clear skin.

    ``region`` is M_R (H, W, 1 = face surface), ``visible`` is P(visible face) (H, W) and
    ``threshold`` the probability above which a pixel is visible face. A component is dropped
    when its area is at most ``max_blob`` × |M_R| and at least ``CLEAR_RING`` of the
    ``RING``-px ring around it lies inside M_R on visible face. uint8 0/1 back; 0 = off.
    """
    mask = (np.asarray(occluded) > 0.5).astype(np.uint8)
    inside = np.asarray(region) > 0.5
    limit = max_blob * inside.sum()
    if max_blob <= 0 or not mask.any() or limit < 1:
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    clear = inside & (np.asarray(visible) >= threshold)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING + 1, 2 * RING + 1))
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] > limit:
            continue
        x, y, w, h = (int(stats[label, i]) for i in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH,
                                                      cv2.CC_STAT_HEIGHT))
        y0, y1 = max(y - RING - 1, 0), min(y + h + RING + 1, mask.shape[0])
        x0, x1 = max(x - RING - 1, 0), min(x + w + RING + 1, mask.shape[1])
        blob = (labels[y0:y1, x0:x1] == label).astype(np.uint8)
        ring = (cv2.dilate(blob, kernel) > 0) & (blob == 0)
        if ring.sum() and clear[y0:y1, x0:x1][ring].mean() >= CLEAR_RING:
            mask[y0:y1, x0:x1][blob > 0] = 0
    return mask

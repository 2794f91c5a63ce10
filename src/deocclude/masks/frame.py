"""Grow M_O past the edge of the aligned crop, in a larger working frame around it (issue 15, item 5).

The canonical N×N crop ends just below the chin and at the cheeks: a face mask's band under
the jaw, its ear loops and a scarf continue past its edge, and everything the networks and
the fill do stays inside it, so the photo kept a strip of mask under the restored chin (the
README example). :func:`grow_past_crop` continues M_O from where it meets the crop's edge into a
frame ``factor`` times larger at the same scale (faces/align.py: ``working_frame``), along
pixels that look like the occluder where it leaves the crop; :func:`fill_past_crop` fills that
continuation with OpenCV's Telea from its surroundings, the restored face included.

How (lengths as fractions of N, so 128 and 256 agree):

1. **Exits.** M_O pixels on the crop's bottom, left and right edges (the top edge is hair and
   hats, which no fill can redraw), on real photo pixels, below the brows.
2. **Colour model** as masks/extend.py: foreground = M_O pixels near the exits, eroded by the
   mask's own dilation so the skin rim is left out; background = every other real pixel of the
   frame not in M_O and away from the exits. A candidate is ``min_ratio`` times more likely
   under the foreground, with two more candidates around it.
3. **Connected, bounded growth** outside the crop only: candidates connected to an exit, no
   farther than ``max_distance`` from the crop, then grown by ``dilate`` px.

Nothing is added when M_O does not reach the crop's edge (almost every clean face, since
masks/outline.py drops shallow rims there).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.masks.extend import _connected_to, _likelihood_ratio
from deocclude.masks.occlusion import enclosed_holes


@dataclass(frozen=True)
class FrameConfig:
    """How the occlusion continues past the crop (lengths as fractions of the crop side N)."""

    factor: float = 1.5
    """Side of the working frame relative to the crop (issue 15: at least 1.5)."""
    max_distance: float = 0.25
    """Farthest an added pixel may lie outside the crop."""
    sample_band: float = 0.08
    """Foreground colours come from M_O within this distance of the exits."""
    exit_gap: float = 0.2
    """Real pixels closer than this to an exit are not background samples (the band under the jaw runs
    20-40 px on past the crop's edge: with masks/extend.py's 0.08 its own colour became background and
    nothing grew on RMFD's first photo)."""
    min_ratio: float = 5.0
    """Foreground / background colour likelihood ratio a candidate needs (as masks/extend.py)."""
    bins: int = 16
    """Histogram bins per Lab channel."""


def crop_exits(inner_mask: np.ndarray, valid: np.ndarray, brow_row: float) -> np.ndarray:
    """(N, N) bool: M_O pixels where the continuation may start (step 1 of the module docstring).

    The pipeline asks this first, in the crop, so the working frame is only warped for the faces
    whose occlusion reaches the crop's edge.
    """
    n = inner_mask.shape[0]
    edge = ~np.pad(np.ones((n - 4, n - 4), bool), 2)  # the 2 px band along the crop's edges
    edge[:int(np.ceil(brow_row))] = False  # not the top edge, nothing above the brows
    return edge & (np.asarray(inner_mask) > 0.5) & (np.asarray(valid) > 0.5)


def grow_past_crop(frame: np.ndarray, valid: np.ndarray, inner_mask: np.ndarray, offset: int, brow_row: float,
                   dilate: int, config: FrameConfig = FrameConfig()) -> np.ndarray:
    """(M, M) float32 occlusion past the crop (1 = occluded, 0 everywhere inside the crop).

    ``frame`` is the M×M×3 uint8 working frame, ``valid`` (M, M) its real-photo pixels,
    ``inner_mask`` the N×N M_O of the crop that sits at ``offset`` in it, ``brow_row`` the brows'
    row in crop pixels, ``dilate`` M_O's own growth in px (left out of the colour samples).
    """
    m, n = frame.shape[0], inner_mask.shape[0]
    inside = np.zeros((m, m), bool)
    inside[offset:offset + n, offset:offset + n] = True
    placed = np.zeros((m, m), bool)
    placed[offset:offset + n, offset:offset + n] = np.asarray(inner_mask) > 0.5
    real = np.asarray(valid) > 0.5
    exits = np.zeros((m, m), bool)
    exits[offset:offset + n, offset:offset + n] = crop_exits(inner_mask, real[offset:offset + n, offset:offset + n],
                                                             brow_row)
    added = np.zeros((m, m), np.float32)
    if not exits.any():
        return added
    to_exit = cv2.distanceTransform((~exits).astype(np.uint8), cv2.DIST_L2, 5)
    core = placed
    if dilate:
        core = cv2.erode(placed.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                            (2 * dilate + 1,) * 2)) > 0
    fg = core & (to_exit <= config.sample_band * n)
    bg = real & ~placed & (to_exit > config.exit_gap * n)
    if not fg.any() or not bg.any():
        return added
    lab = cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2LAB)
    ratio = _likelihood_ratio(lab, fg, bg, config.bins)
    outside_by = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
    allowed = ~inside & real & (outside_by <= config.max_distance * n)
    allowed[:offset + int(np.ceil(brow_row))] = False
    likely = (allowed & (ratio >= config.min_ratio)).astype(np.float32)
    support = cv2.boxFilter(likely, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    grown = _connected_to((likely > 0) & (support >= 3), exits)
    if not grown.any():
        return added
    # a printed mask's dots or a scarf's pattern are other colours: holes the continuation encloses go too
    # and so are the notches it leaves along its edge (a closing of 0.035 N, 9 px at 128)
    k = 2 * int(round(0.035 * n)) + 1
    closed = cv2.morphologyEx((grown | placed).astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    grown = (grown | closed | enclosed_holes(closed)) & ~inside & real
    out = grown.astype(np.uint8)
    if dilate:
        out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1,) * 2))
    return (out.astype(bool) & ~inside & real).astype(np.float32)


def fill_past_crop(frame: np.ndarray, restored: np.ndarray, inner_mask: np.ndarray, outer_mask: np.ndarray,
                   offset: int, radius: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(the frame with the restored crop in place and ``outer_mask`` Telea-filled, the frame's whole mask).

    Both M×M; the mask is 1 where the paste may replace pixels (M_O placed in the frame plus the
    continuation), so the written ``_occlusion.png`` stays exactly where pixels changed.
    """
    n = restored.shape[0]
    edited = np.array(frame, dtype=np.uint8, copy=True)
    edited[offset:offset + n, offset:offset + n] = restored
    holes = (np.asarray(outer_mask) > 0.5).astype(np.uint8)
    filled = np.asarray(cv2.inpaint(edited, holes, radius, cv2.INPAINT_TELEA), np.uint8)
    mask = np.asarray(outer_mask, np.float32).copy()
    mask[offset:offset + n, offset:offset + n] = np.maximum(mask[offset:offset + n, offset:offset + n],
                                                            np.asarray(inner_mask, np.float32))
    return filled, mask

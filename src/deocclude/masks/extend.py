"""Extend the occlusion mask past the face surface where the occluder goes on.

The paper (§4.5) replaces only pixels inside the face region M_R, so an occluder that runs
from the face into the rest of the crop (glasses temples, mask straps, a hand or microphone
entering from the side, a scarf) keeps its outer part and the restored face looks pasted
over it. :func:`extend_occlusion` grows M_O out of M_R along pixels that look like the
occluder, so the fill removes those parts too.

How (all in the aligned N×N crop, every length a fraction of N so 128 and 256 agree):

1. **Seeds.** Only M_O components that reach ``min_depth`` into M_R count: a real occluder
   covers face, while the rims along the face outline where M_R overshoots the real face
   (background or hair seen as "occluded") are a few pixels deep. The occluder's body is
   what of M_O is reached from that deep core in about as many steps as it is deep (so a
   rim joined to it far away is left out); its pixels on the M_R border are the exits,
   unless the body is much longer along the border than deep (hair along a cheek).
2. **Colour model.** Foreground = the body's pixels at least ``min_depth`` inside M_R and
   near an exit (the occluder's own colours where it leaves the face; the outermost pixels
   are left out because rims and blended edges live there: 57 % → 87 % of the added pixels
   are occluder); background = the visible face M_F, the rims, and the pixels outside
   M_R away from every exit (what naturally surrounds the face: background, hair, neck,
   clothes). A pixel outside M_R is a candidate where its CIE Lab colour is ``min_ratio``
   times more likely under the foreground histogram than under the background one, with
   two more such pixels around it; a colour neither side has seen is no candidate.
3. **Connected, bounded growth.** Candidates are kept only where they connect to an exit
   through candidates, no farther than ``max_distance`` from M_R, never on the visible
   face, never outside the real photo, and never above the brows: up there the pixels
   past M_R are the person's own hair, which an occluder's colours cannot be told from
   and which no fill can redraw (hats and hair therefore stay as the paper leaves them).

The result is a superset of M_O equal to it inside M_R; with no seed it is M_O unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# MediaPipe face-mesh points along the top of both eyebrows.
BROW_POINTS = (70, 63, 105, 66, 107, 300, 293, 334, 296, 336)


@dataclass(frozen=True)
class ExtendConfig:
    """How far and how eagerly M_O grows past M_R (lengths as fractions of the crop side N)."""

    max_distance: float = 0.25
    """Farthest an added pixel may lie from M_R (0.25 N = 32 px at 128)."""
    min_depth: float = 0.0625
    """An M_O component seeds growth only if it reaches this far into M_R (8 px at 128), and its
    colours are sampled at least this deep."""
    min_depth_per_contact: float = 0.1
    """A body also needs this many px of depth per pixel of it on M_R's border: a band of
    hair along the cheek is deep enough but long; dropping such slender bodies cut the
    pixels added to clean faces from 27 to 16 per face while the share of the occluder past
    M_R found fell from 0.64 to 0.60 (0.2: 4 px per clean face, but 0.42 found)."""
    sample_band: float = 0.08
    """Foreground colours come from the occluder's body within this distance of its exits."""
    exit_gap: float = 0.08
    """Pixels outside M_R closer than this to an exit are not used as background samples."""
    min_ratio: float = 5.0
    """Foreground / background colour likelihood ratio a candidate pixel needs. On the mixed
    protocol, share of the occluder past M_R found / share of the added pixels that are
    occluder / px added per clean face (before dilation): 3 → 0.65 / 0.76 / 48, 5 → 0.60 / 0.87 / 16,
    8 → 0.48 / 0.88 / 8 (benchmarks/occlusion_extension.py)."""
    bins: int = 16
    """Histogram bins per Lab channel."""
    refine_steps: int = 2
    """Times the colour model is rebuilt without what the growth has reached so far. Where the crop is
    tight, the occluder's own part past M_R (a face mask's band under the jaw) is most of what lies away
    from the exits, so it entered the background histogram and voted against itself (RMFD ``0000_000``:
    the light-blue band under the chin kept). Each rebuild leaves the grown pixels, and a 2 px margin,
    out of the background samples and grows again from the same exits."""


def extend_occlusion(
    image: np.ndarray,
    occluded: np.ndarray,
    face_region: np.ndarray,
    visible: np.ndarray,
    valid: np.ndarray | None = None,
    landmarks: np.ndarray | None = None,
    config: ExtendConfig = ExtendConfig(),
    visible_threshold: float = 0.5,
) -> np.ndarray:
    """M_O grown past M_R along the occluder; see the module docstring.

    ``image`` is the N×N×3 uint8 RGB crop; ``occluded`` (M_O, 1 = occluded), ``face_region``
    (M_R) and ``visible`` (M_F probability, 1 = face) are N×N; ``valid`` marks real photo
    pixels (1) vs the reflected fill of the crop; ``landmarks`` (468, 2|3) in crop pixels
    place the brow line (without them nothing above 0.17 N, the canonical brows, grows).
    Returns a float32 N×N mask, 1 = occluded, equal to ``occluded`` inside M_R.
    """
    given = np.asarray(occluded) > 0.5
    n = image.shape[0]
    region = np.asarray(face_region) > 0.5
    occ = given & region
    if not occ.any() or region.all() or not region.any():
        return given.astype(np.float32)
    face = np.asarray(visible) >= visible_threshold
    real = np.ones_like(region) if valid is None else np.asarray(valid) > 0.5
    rows = np.arange(n, dtype=np.float32)[:, None]
    below_brows = np.broadcast_to(rows >= brow_line(landmarks, n), region.shape)
    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)  # inside M_R: px to its border
    outside = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 5)  # outside M_R: px to M_R

    body, exits = _occluder_exits(occ, depth, below_brows, config.min_depth * n, config.min_depth_per_contact)
    if not exits.any():
        return given.astype(np.float32)
    to_exit = cv2.distanceTransform((~exits).astype(np.uint8), cv2.DIST_L2, 5)

    lab = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), cv2.COLOR_RGB2LAB)
    fg_samples = body & (to_exit <= config.sample_band * n) & (depth >= config.min_depth * n)
    rims = occ & ~body  # M_O that is no occluder's body: mostly what surrounds the face
    bg_samples = (face & region) | rims | (~region & real & (to_exit > config.exit_gap * n))
    ratio = _likelihood_ratio(lab, fg_samples, bg_samples, config.bins)

    allowed = ~region & ~face & real & below_brows & (outside <= config.max_distance * n)
    grown = _grow(ratio, allowed, exits, config.min_ratio)
    margin = np.ones((5, 5), np.uint8)
    for _ in range(config.refine_steps):
        if not grown.any():
            break
        reached = np.asarray(cv2.dilate(grown.astype(np.uint8), margin)) > 0
        ratio = _likelihood_ratio(lab, fg_samples, bg_samples & ~reached, config.bins)
        regrown = _grow(ratio, allowed, exits, config.min_ratio)
        if regrown.sum() <= grown.sum():
            break
        grown = regrown
    return (given | grown).astype(np.float32)


def _grow(ratio: np.ndarray, allowed: np.ndarray, exits: np.ndarray, min_ratio: float) -> np.ndarray:
    """The ``allowed`` pixels at least ``min_ratio`` more likely occluder than not, connected to the exits.

    A candidate needs two more in its 3×3 neighbourhood: lone look-alike pixels of a textured background
    do not carry the growth, while a 1 px thin temple still does.
    """
    likely = (allowed & (ratio >= min_ratio)).astype(np.float32)
    support = cv2.boxFilter(likely, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return _connected_to((likely > 0) & (support >= 3), exits)


def _occluder_exits(occ: np.ndarray, depth: np.ndarray, below_brows: np.ndarray, min_depth: float,
                    min_depth_per_contact: float) -> tuple[np.ndarray, np.ndarray]:
    """(the occluders' bodies, their pixels on M_R's border where growth may start)."""
    core = occ & (depth >= min_depth)
    # the occluder's body: M_O reached from the core in about as many steps as the core is
    # deep, which leaves out the rims that run along the face outline far from the core
    body = _geodesic_grow(core, occ, int(np.ceil(1.5 * min_depth)) + 2)
    border = body & (depth <= 2.0)
    # a body much longer along the face outline than it is deep is a rim too (hair falling
    # along the cheek, a rotated face's outline): it does not seed growth
    count, labels = cv2.connectedComponents(body.astype(np.uint8), connectivity=8)
    deepest = np.zeros(count, np.float32)
    np.maximum.at(deepest, labels[body], depth[body])
    slender = deepest < min_depth_per_contact * np.bincount(labels[border], minlength=count)
    slender[0] = True
    return body, border & below_brows & ~slender[labels]


def brow_line(landmarks: np.ndarray | None, n: int) -> float:
    """Row of the brows in the crop: growth stays below it (the hair zone above)."""
    if landmarks is None or len(landmarks) <= max(BROW_POINTS):
        return 0.17 * n  # the canonical template's brows
    return float(np.asarray(landmarks)[list(BROW_POINTS), 1].mean())


def _geodesic_grow(start: np.ndarray, within: np.ndarray, steps: int) -> np.ndarray:
    """Pixels of ``within`` reached from ``start`` in at most ``steps`` 8-connected moves inside it."""
    kernel = np.ones((3, 3), np.uint8)
    reached = (start & within).astype(np.uint8)
    inside = within.astype(np.uint8)
    for _ in range(steps):
        grown = np.asarray(cv2.dilate(reached, kernel), np.uint8) & inside
        if np.array_equal(grown, reached):
            break
        reached = grown
    return reached > 0


def _likelihood_ratio(lab: np.ndarray, fg: np.ndarray, bg: np.ndarray, bins: int) -> np.ndarray:
    """p(colour | occluder) / p(colour | not occluder) per pixel, from smoothed Lab histograms.

    Both densities get the same floor (a tenth of uniform), so a colour neither side has
    seen scores about 1 and is not taken.
    """
    index = (lab.astype(np.int32) * bins) // 256
    flat = (index[..., 0] * bins + index[..., 1]) * bins + index[..., 2]
    floor = 0.1 / bins**3

    def density(samples: np.ndarray) -> np.ndarray:
        hist = np.bincount(flat[samples], minlength=bins**3).astype(np.float32).reshape(bins, bins, bins)
        hist = _blur3(hist)
        return hist.ravel() / max(float(hist.sum()), 1.0) + floor

    if not fg.any():
        return np.ones(lab.shape[:2], np.float32)
    ratio = density(fg) / density(bg)
    return ratio[flat]


def _blur3(hist: np.ndarray) -> np.ndarray:
    """Spread each histogram count over its neighbouring bins ([1, 2, 1] along every axis)."""
    for axis in range(3):
        padded = np.pad(hist, [(1, 1) if a == axis else (0, 0) for a in range(3)])
        lo = np.take(padded, range(0, hist.shape[axis]), axis=axis)
        mid = np.take(padded, range(1, hist.shape[axis] + 1), axis=axis)
        hi = np.take(padded, range(2, hist.shape[axis] + 2), axis=axis)
        hist = (lo + 2 * mid + hi) / 4
    return hist


def _connected_to(candidates: np.ndarray, exits: np.ndarray) -> np.ndarray:
    """Candidate pixels 8-connected, through candidates, to a pixel next to an exit."""
    if not candidates.any():
        return np.zeros_like(candidates)
    near_exit = cv2.dilate(exits.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    count, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[near_exit & candidates])] = True
    keep[0] = False
    return keep[labels]

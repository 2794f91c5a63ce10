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

**The band beside and under the jaw** (:func:`lower_face_band`). The colour model above, and
masks/extend.py's inside the crop, compare the occluder's colours with everything else around it: a
white mask against a white wall, or the shadowed band of a light-blue mask under the chin, scores about
as likely background as occluder, and a strip of the mask stayed under the restored chin on 10 of
RMFD's 35 sample faces (``benchmarks/real_masks.py``). Where M_O covers most of the lower face,
OpenCV's GrabCut (colour models *and* the edges between them, seeded by M_O and the visible face)
decides, in the frame, which pixels outside M_R and below the eyes (``band_from``) belong with the occluder, no farther
than ``max_distance`` from M_R: the band under the chin follows its own edge, not a colour threshold.
The pipeline asks before the fill (the photo's faces carry their frame), so the band's part inside the
crop joins M_O and the crop's fill takes its colours from around the band; its part past the crop joins
the continuation. :func:`fill_past_crop` fills that harmonically, colours from all around the hole
(Telea carried a band's bright end along it).

**The mask S half sees as skin** (``BandConfig.inner``). The same GrabCut also decides, inside M_R below
a quarter of the way from the eyes to the nose tip, the pixels S calls visible face without being sure (P < 0.9): a pale
blue or lilac mask under glasses, a white mask in a goggles' shadow, of which S's face class took a cheek's
worth and the fill left it standing. Those GrabCut gives the occluder, connected to M_O, join it; skin stays
skin (S's sure face is fixed background, and skin-coloured unsure pixels go with the skin's colour model).
S can also be *sure* of a mask: a salmon-pink one was face at P 0.99 over half its width. So the lower face's
sure pixels whose colour lies nearer the occluder's than the skin's above go to GrabCut too
(``inner_by_colour``), when occluder and skin differ by enough that colour can tell them. And since the frame-wide
GrabCut's background model also holds the wall, the collar and the shirt, a pale edge of a blue mask under glasses
rims matched a white wall and stayed: a second GrabCut decides the lower face against the skin alone (the frame
outside the face surface painted the skin's colour), and what it gives the mask joins too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.faces.landmarks import LEFT_EYE, NOSE_TIP, RIGHT_EYE
from deocclude.inpaint.poisson import harmonic_fill
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


GRABCUT_SEED = 0
"""OpenCV's RNG seed for GrabCut's k-means: without it the band changed by a few pixels with whatever ran before
(``--batch-size`` 1 vs 3 gave different photos)."""


@dataclass(frozen=True)
class BandConfig:
    """When and how far :func:`lower_face_band` adds a lower-face occluder's band (lengths as fractions of N)."""

    min_lower: float = 0.5
    """Share of M_R below the nose tip that M_O must cover: a face mask, a scarf, a hand over the mouth. Clean
    faces, glasses and hair never reach it, so for them nothing runs."""
    band_from: float = 0.25
    """Where the band beside the face starts, as a share of the way from the eyes (their landmarks' mean row) to the
    nose tip. From the nose tip (1.0, sessions 11-13) a mask's sides past the cheek outline stayed: a black mask's
    wing up to the ear, a white mask's side strap, the upper corners of a KN95 (RMFD ``0001_006``, ``0004_007``,
    ``0016_005``, ``0001_029``); from a quarter 101 of 516 RMFD photos change, the sides go on most, none of the
    about 60 looked at lost hair or an ear (session 14). Where a coloured side goes, the harmonic fill past M_R
    leaves a smooth patch."""
    max_distance: float = 0.2
    """Farthest an added pixel may lie from M_R. Most bands under RMFD's chins reach about 0.1 N past it, but at
    0.12 N (sessions 11-13) a strip stayed under the chin where the mask sits low or the mesh's chin high (the floral
    mask ``0003_012``, a sports mask ``0001_036``, white bands ``0022_003``, ``0015_029``, the bundled example's two
    dots at the neck); at 0.2 N, with ``min_contrast``, those go and 120 of 516 RMFD photos change, none losing a
    collar (session 14). At 0.25 N, before the contrast check, a black mask took the top of a black turtleneck and
    the bundled mask example a dark collar."""
    core_erode: float = 0.03
    """M_O eroded by this much is sure occluder (GrabCut's fixed foreground); its rim stays probable."""
    work_size: int = 128
    """GrabCut sees the frame scaled so the crop is at most this many px: at N = 256 it cost 4× as much for the same
    band."""
    iterations: int = 3
    """GrabCut's rounds of re-estimating its colour models. On 19 RMFD and example faces 3 rounds give the bands
    of 5 within 10 px (of up to 1,538) in two thirds of the time (about 40 instead of 60 ms per masked face);
    2 rounds moved one band by 30 px."""
    inner: bool = True
    """Also let GrabCut take pixels inside M_R that S calls visible face but not surely (``inner_sure``), below
    ``inner_from`` of the way from the eyes to the nose tip, connected to M_O: the parts of a pale mask S saw as
    skin."""
    inner_sure: float = 0.9
    inner_from: float = 0.25
    """Where the lower face starts, as a share of the way from the eyes (their landmarks' mean row) to the nose tip.
    A mask's top edge runs just under the eyes: from halfway (session 13) a light strip of it stayed across both
    cheeks under glasses rims and lower eyelids; from a quarter most of those strips go (109 of 516 RMFD photos
    changed against halfway, all looked at, none for the worse), and the eyes themselves stay above it."""
    inner_by_colour: float = 10.0
    """With ``inner``, also let GrabCut decide the lower face's pixels S is *sure* are face when their colour lies
    nearer the occluder's (M_O's core, median) than the skin's (S's sure face above ``inner_from``, median), provided
    those two medians lie at least this far apart (CIE ΔE76; 0 turns it off). A salmon-pink mask (RMFD ``0007_014``,
    ΔE 23 from the forehead) was half S's "face" at P 0.99 and half of it stayed, with half a mouth painted beside it;
    a hand or anything else skin-coloured stays below the threshold, so it never decides cheeks. Past the same
    threshold a second GrabCut decides the whole lower face against the skin alone (:func:`_mask_or_skin`): the
    pale top edge of a light-blue mask under glasses (RMFD ``0008_030``, ``0009_013``), nearer the skin's median
    than the mask's and claimed by a white wall in the frame-wide GrabCut, goes too. About 20 ms more per masked
    face."""
    min_contrast: float = 10.0
    """CIE ΔE76 the band's median colour must keep from that of the pixels just past it, or nothing is added: a
    black mask over a black hood or hoodie cannot be told from the clothes, and GrabCut took a ring of the hood
    (RMFD ``0001_028``, ΔE 0.4) or two lobes of the hoodie (``0009_015``, 2.8), filled with skin and drawstring
    white. The bands it should take: ΔE 13-40 (the bundled mask example 12.9, RMFD's sample 15.5-39.9)."""


def in_frame(crop_mask: np.ndarray, size: int, offset: int) -> np.ndarray:
    """(size, size): an (N, N) crop array placed in its working frame at ``offset``, 0 (False) around it."""
    crop_mask = np.asarray(crop_mask)
    n = crop_mask.shape[0]
    out = np.zeros((size, size), crop_mask.dtype)
    out[offset:offset + n, offset:offset + n] = crop_mask
    return out


def lower_face_covered(inner_mask: np.ndarray, region: np.ndarray, landmarks: np.ndarray,
                       config: BandConfig = BandConfig()) -> bool:
    """Whether M_O (N, N) covers at least ``min_lower`` of M_R (``region``) below the nose tip (``landmarks``:
    the crop's 468 points)."""
    n = inner_mask.shape[0]
    rows = np.arange(n)[:, None] + 0.5
    lower = (np.asarray(region) > 0.5) & (rows > float(landmarks[NOSE_TIP, 1]))
    covered = lower & (np.asarray(inner_mask) > 0.5)
    return bool(lower.any()) and float(covered.sum()) >= config.min_lower * float(lower.sum())


def lower_face_band(frame: np.ndarray, valid: np.ndarray, inner_mask: np.ndarray, region: np.ndarray,
                    visible: np.ndarray, offset: int, landmarks: np.ndarray, dilate: int,
                    config: BandConfig = BandConfig()) -> np.ndarray:
    """(M, M) float32, 1 = occluded: where a lower-face occluder goes on past M_O (module docstring); 0 on the
    crop's M_O, which it adds to. All 0 unless :func:`lower_face_covered`.

    ``frame`` (M, M, 3) uint8 and ``valid`` (M, M) are the working frame; ``inner_mask`` (M_O), ``region``
    (M_R), ``visible`` (P(visible face)) and ``landmarks`` (468, 2+) are the N×N crop's, which sits at
    ``offset``. Two parts, both connected to M_O:

    - **the band** outside M_R, below ``band_from`` and within ``max_distance`` of M_R: what GrabCut, seeded by M_O
      and the visible face, gives the occluder, kept where its colour keeps ``min_contrast`` from what lies past it
      (:func:`_contrasted`);
    - with ``inner``, **the mask S called face** inside M_R, in the lower face: pixels S is unsure of or that are
      coloured like the mask, taken by the same GrabCut, and what a second GrabCut against the skin alone gives
      the mask (:func:`_mask_or_skin`).

    Both are grown by ``dilate`` px (M_O's own rim) and kept on the real photo.
    """
    m, n = frame.shape[0], inner_mask.shape[0]
    added = np.zeros((m, m), np.float32)
    if not lower_face_covered(inner_mask, region, landmarks, config):
        return added

    def placed(crop_mask: np.ndarray) -> np.ndarray:
        return in_frame(crop_mask, m, offset)

    occluded, surface = placed(np.asarray(inner_mask) > 0.5), placed(np.asarray(region) > 0.5)
    face = placed(np.asarray(visible) >= 0.5) & surface & ~occluded
    rows = np.arange(m)[:, None] + 0.5
    eye_row = float(np.asarray(landmarks)[list(LEFT_EYE) + list(RIGHT_EYE), 1].mean())
    nose_row = float(landmarks[NOSE_TIP, 1])

    def below(share: float) -> np.ndarray:
        """The rows below ``share`` of the way from the eyes to the nose tip, in the frame."""
        return rows > offset + eye_row + share * (nose_row - eye_row)

    zone = (below(config.band_from) & (np.asarray(valid) > 0.5) & ~surface
            & (cv2.distanceTransform((~surface).astype(np.uint8), cv2.DIST_L2, 5) <= config.max_distance * n))
    k = 2 * max(1, int(round(config.core_erode * n))) + 1
    core = cv2.erode((occluded & surface).astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    if not core.any() or not zone.any():
        return added
    lower = face & below(config.inner_from) if config.inner else np.zeros_like(face)
    sure_skin = face & ~lower & placed(np.asarray(visible) >= config.inner_sure)
    unsure = lower & placed(np.asarray(visible) < config.inner_sure)
    # mask and skin told apart by colour (one Lab conversion and two medians for both uses below), or None
    apart = (_colours_apart(frame, core, sure_skin, config.inner_by_colour)
             if config.inner and config.inner_by_colour > 0 else None)
    if apart is not None:
        unsure |= lower & _nearer_occluder(apart)
    labels = np.full((m, m), cv2.GC_BGD, np.uint8)
    labels[zone] = cv2.GC_PR_BGD
    labels[occluded] = cv2.GC_PR_FGD
    labels[core] = cv2.GC_FGD
    labels[face] = cv2.GC_BGD
    labels[unsure] = cv2.GC_PR_BGD
    scale = min(1.0, config.work_size / n)
    taken = _grabcut(frame, labels, config, scale) & ~occluded
    seeds = cv2.dilate(occluded.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    inside = _connected_to(taken & unsure, seeds)
    if apart is not None and lower.any():
        inside |= _connected_to(_mask_or_skin(frame, surface, occluded, core, lower, sure_skin, config, scale) & lower,
                                seeds)
    band = _contrasted_band(frame, _connected_to(taken & zone, seeds | inside), surface | occluded, valid,
                            rows > offset + nose_row, config.min_contrast)
    band |= inside
    if not band.any():
        return added
    if dilate:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1,) * 2)
        band = cv2.dilate(band.astype(np.uint8), disk) > 0
    return (band & ~occluded & (np.asarray(valid) > 0.5)).astype(np.float32)


def _colours_apart(frame: np.ndarray, occluder: np.ndarray, skin: np.ndarray,
                   min_apart: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``frame`` (RGB uint8) in CIE Lab with the median colours of ``occluder`` and ``skin`` ((M, M) bool each), or
    None when ``skin`` has under 64 pixels or the two medians lie less than ``min_apart`` (ΔE76) apart: then colour
    cannot tell the occluder from the skin."""
    if skin.sum() < 64 or not occluder.any():
        return None
    lab = cv2.cvtColor(np.asarray(frame, np.float32) / 255.0, cv2.COLOR_RGB2Lab)  # as lab_distance
    occluder_colour, skin_colour = np.median(lab[occluder], axis=0), np.median(lab[skin], axis=0)
    if float(np.linalg.norm(occluder_colour - skin_colour)) < min_apart:
        return None
    return lab, occluder_colour, skin_colour


def _nearer_occluder(apart: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """(M, M) bool: the pixels nearer in CIE Lab to the occluder's median colour than to the skin's
    (``apart``: :func:`_colours_apart`'s Lab frame and the two medians)."""
    lab, occluder_colour, skin_colour = apart
    return np.linalg.norm(lab - occluder_colour, axis=-1) < np.linalg.norm(lab - skin_colour, axis=-1)


def _coloured_like(frame: np.ndarray, occluder: np.ndarray, skin: np.ndarray, min_apart: float) -> np.ndarray:
    """(M, M) bool: the pixels of ``frame`` nearer in CIE Lab to the median colour of ``occluder`` than to that of
    ``skin``; all False unless :func:`_colours_apart`."""
    apart = _colours_apart(frame, occluder, skin, min_apart)
    return np.zeros(skin.shape, bool) if apart is None else _nearer_occluder(apart)


def _mask_or_skin(frame: np.ndarray, surface: np.ndarray, occluded: np.ndarray, core: np.ndarray, lower: np.ndarray,
                  skin: np.ndarray, config: BandConfig, scale: float) -> np.ndarray:
    """(M, M) bool: the pixels of ``lower`` (the lower face S calls face) GrabCut gives the occluder when its only
    other choice is the skin: the frame outside the face surface is painted the skin's median colour, so the
    background model learns skin and nothing else (no white wall or pale collar to claim a pale mask's edge). M_O's
    ``core`` is sure occluder, the rest of M_O on the surface probable; ``skin`` (S's sure face above ``lower``) and
    the surface's other pixels are sure background. :func:`lower_face_band` asks only when the occluder's median
    colour lies at least ``inner_by_colour`` from the skin's (a hand, a skin-coloured mask: colour cannot tell them)."""
    image = np.array(frame, copy=True)
    image[~surface] = np.median(image[skin], axis=0).astype(np.uint8)
    labels = np.full(lower.shape, cv2.GC_BGD, np.uint8)
    labels[surface & occluded] = cv2.GC_PR_FGD
    labels[core] = cv2.GC_FGD
    labels[lower] = cv2.GC_PR_BGD
    return _grabcut(image, labels, config, scale) & ~occluded


def _grabcut(frame: np.ndarray, labels: np.ndarray, config: BandConfig, scale: float) -> np.ndarray:
    """(M, M) bool: the pixels GrabCut gives the foreground, run on ``frame`` (RGB uint8) resized by ``scale``
    (its cost is per pixel: a 256 crop's 384² frame cost four times a 128 crop's) with ``labels`` (OpenCV's
    GC_* values) resized alike, and brought back to the frame's size."""
    m = frame.shape[0]
    size = max(1, int(round(m * scale)))
    small = frame if size == m else cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
    marks = labels.copy() if size == m else cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)
    background_model, foreground_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(GRABCUT_SEED)  # its GMMs start from k-means++ on OpenCV's global RNG: same photo, same band
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), marks, (0, 0, size, size), background_model, foreground_model,
                config.iterations, cv2.GC_INIT_WITH_MASK)  # OpenCV's image order is BGR
    taken = ((marks == cv2.GC_FGD) | (marks == cv2.GC_PR_FGD)).astype(np.uint8)
    return taken > 0 if size == m else cv2.resize(taken, (m, m), interpolation=cv2.INTER_NEAREST) > 0


def _contrasted_band(frame: np.ndarray, band: np.ndarray, face: np.ndarray, valid: np.ndarray, under: np.ndarray,
                     min_contrast: float) -> np.ndarray:
    """The band (:func:`_contrasted`) judged whole, and when that fails its part ``under`` the nose tip and its
    sides beside the cheeks apart."""
    whole = _contrasted(frame, band, face, valid, min_contrast)
    if whole.any():
        return whole
    return (_contrasted(frame, band & under, face, valid, min_contrast)
            | _contrasted(frame, band & ~under, face, valid, min_contrast))


def _contrasted(frame: np.ndarray, part: np.ndarray, face: np.ndarray, valid: np.ndarray, min_contrast: float
                ) -> np.ndarray:
    """``part`` of the band ((M, M) bool), or nothing when its median colour lies less than ``min_contrast`` (ΔE76)
    from that of the real pixels just past it (outside ``face``, M_R ∪ M_O). :func:`_contrasted_band` judges the
    band whole, and when that fails its part under the nose tip and its sides apart: sides that reach hair as dark
    as the mask must not cost the band under the chin (the bundled example's aligned crop: ΔE 9.9 whole, 17.4 and
    33.6 apart), while a sports mask's band under the chin passes only with its sides (RMFD ``0001_036``)."""
    beyond = (cv2.dilate(part.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~part & ~face
    beyond &= np.asarray(valid) > 0.5
    if not part.any() or not beyond.any() or lab_distance(frame, part, beyond) < min_contrast:
        return np.zeros_like(part)
    return part


def lab_distance(image: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """CIE ΔE76 between the median colours of two non-empty pixel sets (``first``, ``second``: (H, W) bool) of an
    RGB uint8 ``image``."""
    lab = cv2.cvtColor(np.asarray(image, np.float32) / 255.0, cv2.COLOR_RGB2Lab)  # as masks/occlusion.unlike_skin
    return float(np.linalg.norm(np.median(lab[first], axis=0) - np.median(lab[second], axis=0)))


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
    placed = in_frame(np.asarray(inner_mask) > 0.5, m, offset)
    real = np.asarray(valid) > 0.5
    exits = in_frame(crop_exits(inner_mask, real[offset:offset + n, offset:offset + n], brow_row), m, offset)
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


def off_face_at_edge(inner_mask: np.ndarray, region: np.ndarray, exits: np.ndarray) -> np.ndarray:
    """(N, N) bool: the parts of M_O off the face surface M_R (``region``) that reach the crop's edge at ``exits``
    (:func:`crop_exits`): what :func:`fill_past_crop` fills again in the frame, from the photo beyond the crop.

    Why: the crop's fill sees nothing past the crop's edge (its border is free), so where M_O covers background up
    to the edge (a white wall beside a white mask, a light behind a cheek) it painted a patch whose straight side
    was the crop's edge, a seam the photo beyond does not continue (held-out RMFD ``0010_013``)."""
    off = (np.asarray(inner_mask) > 0.5) & (np.asarray(region) <= 0.5)
    if not off.any() or not exits.any():
        return np.zeros_like(off)
    return _connected_to(off, exits & off)


def fill_past_crop(frame: np.ndarray, restored: np.ndarray, inner_mask: np.ndarray, outer_mask: np.ndarray,
                   offset: int, valid: np.ndarray | None = None, refill: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(the frame with the restored crop in place and ``outer_mask`` filled, the frame's whole mask).

    Both M×M. ``outer_mask`` is the occlusion's continuation past the crop (0 inside it). Its fill is harmonic:
    colours from all around the hole (under a chin, the restored chin above and the neck or collar below), never
    from the frame's pixels off the photo (``valid`` (M, M) 0: a blurred reflection, which is solved along).
    ``refill`` (N, N bool, inside M_O): crop pixels whose fill is replaced by the same harmonic fill, solved with
    the continuation (:func:`off_face_at_edge`: M_O off the face at the crop's edge, so the photo beyond the edge
    is their boundary too). The mask is 1 where the paste may replace pixels (M_O placed in the frame plus the
    continuation), so the written ``_occlusion.png`` stays exactly where pixels changed.
    """
    n = restored.shape[0]
    edited = np.array(frame, dtype=np.uint8, copy=True)
    edited[offset:offset + n, offset:offset + n] = restored
    holes = np.asarray(outer_mask) > 0.5
    if refill is not None:
        holes = holes.copy()
        holes[offset:offset + n, offset:offset + n] |= np.asarray(refill, bool) & (np.asarray(inner_mask) > 0.5)
    free = holes if valid is None else holes | (np.asarray(valid) <= 0.5)
    solved = np.clip(np.rint(harmonic_fill(edited.astype(np.float32), free)), 0, 255).astype(np.uint8)
    filled = np.where(holes[..., None], solved, edited)
    mask = np.asarray(outer_mask, np.float32).copy()
    mask[offset:offset + n, offset:offset + n] = np.maximum(mask[offset:offset + n, offset:offset + n],
                                                            np.asarray(inner_mask, np.float32))
    return filled, mask

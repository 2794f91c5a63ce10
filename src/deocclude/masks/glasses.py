"""Glasses as one object: found whole around both eyes, then removed whole or kept whole.

S's face parser sees a real eyeglass frame as a thin line of *other* (P 0.3-0.8 on 1-3 px at
N = 128), too thin for M_O's 3×3 opening and skin-blob rule, so before this module the front
frame stayed while its thicker parts (temples, the bridge) went: glasses in pieces, worse than
the input (wild ``img24`` / ``img25``). Here the frame is recognised by its shape instead of
pixel by pixel: a pair of glasses rings *both* eyes and crosses the nose between them.

:func:`find_glasses` returns the frame (the thin lines, with temples and bridge) and the lenses
(what the frame encloses) on the aligned crop, or nothing. The pipeline adds the frame to M_O
after the opening (``DeoccluderConfig.keep_glasses`` False, the paper's behaviour: glasses
are occlusion), or takes frame, lenses and their rim out of M_O (``--keep-glasses``: the glasses
stay whole, dark lenses included). A pair whose frame is suspected but not traced all around is
kept whole too: removing what S happened to see of it (often the bridge) leaves it in pieces. Clear
lenses, the eyes behind them, are kept either way (only the frame's rim grows into them); tinted ones
go with their frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.faces.landmarks import LEFT_EYE, RIGHT_EYE
from deocclude.masks.occlusion import unlike_skin


@dataclass(frozen=True)
class GlassesConfig:
    """How sure the shape of a frame must be (lengths in eye distances, so 128 and 256 agree)."""

    min_other: float = 0.15
    """P(other) from which a pixel may be part of a frame (S gives real thin frames 0.2-0.8, clear skin
    around the eyes under 0.05)."""
    lens_half_width: float = 0.38
    """Half width of the ellipse a lens rim follows around each eye centre."""
    lens_half_height: float = 0.26
    """Its half height."""
    ring: tuple[float, float] = (0.6, 1.6)
    """The band, in units of that ellipse, where a rim is looked for (eyes and lashes lie inside 0.6)."""
    columns: int = 8
    """Columns across each lens (its width) in which the rim is looked for above and below the eye."""
    min_coverage: float = 0.75
    """Share of those columns in which frame pixels must be found, above *and* below *each* eye, for the
    frame to be traced whole: a frame's top and bottom bars (their sides are often too thin for S).
    Brows alone, or shadows under the eyes alone, cover one side."""
    min_suspect: float = 0.25
    """From this share (with the bridge) a pair is suspected but not traced whole: clear glasses are then
    kept whole rather than removed in pieces (a bridge gone, the rims left). Eyeglasses protocol (64
    faces, parser4 at 37 min): faces with the pair removed in pieces 0.344 at 0.4 → 0.281 at 0.25 (=
    at 0.15); mixed blend L1 0.0744 → 0.0760 (one face's clear eyewear now kept)."""
    bridge_half_width: float = 0.15
    """Half width of the box between the eyes, at eye height, that the bridge must cross."""
    temple_length: float = 0.7
    """How far past the frame's outer end a temple is followed towards the ear."""
    temple_band: float = 0.1
    """Half height of the straight corridor it is followed in (temples run level with the frame's end)."""
    temple_colour: float = 15.0
    """CIE Lab distance (ΔE76) from the frame's median colour within which a pixel is temple."""
    lone_lens: float = 0.3
    """:func:`lone_lens`: share of one lens (its ellipse) M_O must cover to be looked at as a lens seen alone."""
    other_lens: float = 0.25
    """... while M_O covers the other lens less than this fraction of that share."""
    lens_contrast: float = 10.0
    """... and what it covers is unlike the skin around it (median ΔE76,
    :func:`~deocclude.masks.occlusion.unlike_skin`): a hand or a shadow over one eye is skin-coloured and stays
    occlusion."""
    same_glass: float = 15.0
    """... and the other lens, pixel for mirrored pixel, has its colour (median ΔE76 below this): the same glass
    on both sides, which S saw on one side only."""
    lens_zone_share: float = 0.7
    """An M_O component on the lone lens is taken back only when this share of it lies around the eyes (inside
    ``ring[1]``): a larger occluder over one eye (a hand, a cup) stays occlusion."""
    max_clear_other: float = 0.1
    """Lenses are clear (the eyes behind them are kept) when S's mean P(other) over them is below this:
    the same bar as M_O's enclosed holes (``DEFAULT_HOLE_CONFIDENCE`` 0.9 visible), so a grey or tinted
    lens goes whole with its frame instead of keeping a tinted core."""


@dataclass(frozen=True)
class EyeLine:
    """The eyes on an aligned crop and every pixel's place relative to them, in eye distances (so 128 and 256
    agree): ``u`` along the line from the right eye to the left, ``v`` across it (down positive)."""

    right: np.ndarray
    """(2,) float32 the right eye's centre (crop px), the mean of the mesh's right-eye points."""
    left: np.ndarray
    """(2,) float32 the left eye's centre."""
    iod: float
    """Distance between the two centres (px)."""
    shape: tuple[int, int]
    """(H, W) of the crop."""

    @classmethod
    def of(cls, landmarks: np.ndarray | None, shape: tuple[int, int]) -> EyeLine | None:
        """From (468, 2+) mesh points in crop pixels; None without them or with the eyes under 4 px apart."""
        if landmarks is None or len(landmarks) <= max(RIGHT_EYE + LEFT_EYE):
            return None
        points = np.asarray(landmarks, np.float32)[:, :2]
        right, left = points[list(RIGHT_EYE)].mean(0), points[list(LEFT_EYE)].mean(0)
        iod = float(np.linalg.norm(left - right))
        return cls(right, left, iod, (int(shape[0]), int(shape[1]))) if iod >= 4 else None

    @property
    def _rotation(self) -> tuple[np.float64, np.float64]:
        """(cos, sin) of the eye line's angle, as float64 scalars: u and v come out float64 (NumPy 2 promotes
        the float32 pixel grid to them), which the thresholds on them were read off."""
        axis = self.left - self.right
        angle = float(np.arctan2(axis[1], axis[0]))
        return np.cos(angle), np.sin(angle)

    def axes(self, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, v), each (H, W) float64: every pixel's place from ``centre`` along and across the eye line."""
        h, w = self.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cos, sin = self._rotation
        dx, dy = xx - centre[0], yy - centre[1]
        return (cos * dx + sin * dy) / self.iod, (-sin * dx + cos * dy) / self.iod

    def point(self, centre: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) crop pixels of the places (``u``, ``v``) from ``centre``: the inverse of :meth:`axes`."""
        cos, sin = self._rotation
        return centre[0] + self.iod * (u * cos - v * sin), centre[1] + self.iod * (u * sin + v * cos)


def lens_radius(u: np.ndarray, v: np.ndarray, config: GlassesConfig) -> np.ndarray:
    """Each pixel's distance from the eye centre in units of the lens ellipse (1 = on it)."""
    return np.sqrt((u / config.lens_half_width) ** 2 + (v / config.lens_half_height) ** 2)


@dataclass(frozen=True)
class Glasses:
    """A pair of glasses on the aligned crop: (H, W) bool maps."""

    frame: np.ndarray
    """Frame pixels: rims, bridge, temples (connected to the rims; past the face surface, followed in the
    frame's colour when the crop is given)."""
    lenses: np.ndarray
    """What the frame encloses: the lenses (with the eyes behind them)."""
    clear: bool
    """The eyes show through the lenses (``max_clear_other``): the lenses are kept when the frame goes,
    only the frame's rim grows into them."""
    traced: bool
    """The frame was found all around both eyes (``min_coverage``): it can be removed whole. False: only
    suspected (``min_suspect``), so the pipeline keeps it whole."""
    coverage: tuple[float, float]
    """Per eye (right, left): the share of the lens width with a rim found both above and below it."""

    @property
    def whole(self) -> np.ndarray:
        """Frame and lenses: everything ``--keep-glasses`` keeps."""
        return self.frame | self.lenses

    def removed_frame(self, image: np.ndarray, occluded: np.ndarray, visible: np.ndarray,
                      min_contrast: float) -> np.ndarray:
        """(H, W) bool: the frame pixels M_O takes (after its opening) when the pair is removed.

        Clear lenses: the whole frame (S sees it only as thin lines the opening erases). Dark lenses: S finds
        the lenses, often not the frame's bar, which stayed beside them as a ghost and darkened the fill
        (LFW James Cameron), so the frame pixels whose colour is at least ``min_contrast`` (ΔE76) from the skin
        beside them (:func:`~deocclude.masks.occlusion.unlike_skin`; ``image`` the (H, W, 3) crop, ``occluded``
        and ``visible`` S's mask and P(visible)); the pipeline adds them after the extension past M_R. 64 faces,
        blend: eyeglasses L1 0.1388 -> 0.1130, sunglasses L1 the same (0.0732) at M_O precision 0.740 -> 0.691;
        all of the traced frame cost more precision still.
        """
        if self.clear:
            return self.frame
        return self.frame & (unlike_skin(image, occluded | self.frame, visible) >= min_contrast)

    def untouchable(self, kept: bool, reach: int) -> np.ndarray | None:
        """(H, W) bool: what M_O, grown ``reach`` px past its core, must still leave alone, or None.

        Kept glasses: all of them and their rim. Removed clear glasses: the lenses (the eyes behind
        them) beyond the frame's own grown rim. Removed dark lenses: nothing.
        """
        disk = np.ones((2 * (reach + 1) + 1,) * 2, np.uint8)
        if kept:
            return np.asarray(cv2.dilate(self.whole.astype(np.uint8), disk)) > 0
        if self.clear:
            return self.lenses & ~(np.asarray(cv2.dilate(self.frame.astype(np.uint8), disk)) > 0)
        return None


def find_glasses(other: np.ndarray, region: np.ndarray, landmarks: np.ndarray | None,
                 config: GlassesConfig = GlassesConfig(), image: np.ndarray | None = None) -> Glasses | None:
    """The glasses on an aligned crop, or None when there are none (or no landmarks to look around).

    ``other`` (H, W): S's P(other); ``region`` (H, W): the face surface M_R, where a frame is looked
    for (past it everything is *other*: the temples beyond it are the extension's, masks/extend.py);
    ``landmarks`` (468, 2+) mesh points in crop pixels. Above and below both eyes a rim must be
    found across ``min_coverage`` of the lens width, and the bridge box must hold frame pixels; the
    frame is then every candidate pixel connected to those rims, inside the eye band. With the crop
    ``image`` (H, W, 3) uint8 the temples are followed from the frame's outer ends towards the ears
    in the frame's own colour (:func:`_temples`): past M_R's outline S cannot tell them from the
    background.
    """
    line = EyeLine.of(landmarks, np.asarray(other).shape[:2])
    if line is None:
        return None
    # away from M_R's outline, where P(other) rises into the background and would join the frame to it
    margin = max(1, round(3 * other.shape[0] / 128))
    face = (np.asarray(region) > 0.5).astype(np.uint8)
    inner = np.asarray(cv2.erode(face, np.ones((2 * margin + 1,) * 2, np.uint8))) > 0
    candidate = (np.asarray(other) >= config.min_other) & inner
    rims, coverage, hulls = np.zeros_like(candidate), [], []
    eyes, lens_zone = np.zeros_like(candidate), np.zeros_like(candidate)
    for centre in (line.right, line.left):
        u, v = line.axes(centre)
        radius = lens_radius(u, v, config)
        eyes |= radius <= config.ring[0]
        lens_zone |= radius < config.ring[1]
        band = (radius > config.ring[0]) & (radius < config.ring[1]) & candidate
        column = np.floor((u / config.lens_half_width + 1) / 2 * config.columns).astype(np.int64)
        inside = (column >= 0) & (column < config.columns)
        above = np.bincount(column[band & inside & (v < 0)], minlength=config.columns)[:config.columns] > 0
        below = np.bincount(column[band & inside & (v > 0)], minlength=config.columns)[:config.columns] > 0
        coverage.append(float(min(above.mean(), below.mean())))
        rims |= band
        hulls.append(band)
    u, v = line.axes((line.right + line.left) / 2)  # from here on: between the eyes
    bridge_zone = (np.abs(u) < config.bridge_half_width) & (v > -0.35) & (v < 0.1)
    bridge = bridge_zone & candidate
    if min(coverage) < config.min_suspect or not bridge.any():
        return None
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[rims | bridge])
    frame: np.ndarray = np.isin(labels, touching[touching > 0])
    # within the rims' band around each eye or on the bridge (not down the face's side, where P(other) rises
    # along the outline); the eyes themselves (lashes, a reflection) are no frame
    frame &= (lens_zone | bridge_zone) & ~eyes
    closed, lenses = _close_rims(frame, hulls, eyes)
    clear = not lenses.any() or float(np.asarray(other)[lenses].mean()) < config.max_clear_other
    if clear:  # a clear frame is thin: broad soft *other* (shade along the cheek, hair) joined to it is not frame
        k = 2 * max(1, round(2 * frame.shape[0] / 128)) + 1
        opened = cv2.morphologyEx(np.asarray(other, np.float32), cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
        thin = frame & (np.asarray(other, np.float32) - np.asarray(opened) >= config.min_other)
        if thin.any():
            closed, lenses = _close_rims(thin, hulls, eyes)
    frame = closed
    if image is not None and frame.any():
        # on the face surface a temple must also be S's *other*: shaded skin can match a brown frame
        frame = frame | _temples(image, frame, (u, v), candidate | ~inner, config)
    return Glasses(frame=frame, lenses=lenses, clear=clear, traced=min(coverage) >= config.min_coverage,
                   coverage=(coverage[0], coverage[1]))


def _close_rims(frame: np.ndarray, rims: list[np.ndarray], eyes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame closed, lenses): each lens is the convex hull of the frame pixels in its rim band (H, W bool
    per eye); the hull's own 2 px edge (at N = 128) closes the gaps S left in the rim (the sides of a frame
    are often too thin for it), never over the ``eyes``."""
    closed, lenses = frame.copy(), np.zeros_like(frame)
    rim_width = max(1, round(2 * frame.shape[0] / 128))
    for rim in rims:
        points = np.argwhere(rim & frame)[:, ::-1].astype(np.int32)
        if len(points) >= 3:
            hull = np.zeros(frame.shape, np.uint8)
            cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
            core = np.asarray(cv2.erode(hull, np.ones((2 * rim_width + 1,) * 2, np.uint8)))
            closed |= (hull > 0) & (core == 0) & ~eyes
            lenses |= hull > 0
    return closed, lenses & ~closed


def _temples(image: np.ndarray, frame: np.ndarray, axes: tuple[np.ndarray, np.ndarray], allowed: np.ndarray,
             config: GlassesConfig) -> np.ndarray:
    """Pixels of the temples: from each outer end of ``frame`` (H, W bool), the pixels in its colour
    connected to that end through a straight corridor ``temple_length`` long and ``temple_band`` high.

    ``axes``: (u, v) of every pixel in eye distances along and across the eye line (origin between
    the eyes); ``allowed`` (H, W bool): where a temple may lie. A temple is a thin straight bar in the
    frame's colour; the corridor keeps the growth off hair and background of that colour beside it.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(image, np.uint8), cv2.COLOR_RGB2Lab).astype(np.float32)
    colour = np.median(lab[frame], axis=0)
    alike = (np.linalg.norm(lab - colour, axis=-1) < config.temple_colour) & np.asarray(allowed, bool)
    u, v = axes
    found = np.zeros_like(frame)
    for side in (-1.0, 1.0):
        ends = frame & (side * u >= (side * u[frame]).max() - 0.05)
        if not ends.any():
            continue
        end_u, end_v = float((side * u[ends]).max()), float(np.median(v[ends]))
        corridor = ((side * u > end_u - 0.05) & (side * u < end_u + config.temple_length)
                    & (np.abs(v - end_v) < config.temple_band))
        seeds = (ends | (alike & corridor)).astype(np.uint8)
        count, labels = cv2.connectedComponents(seeds, connectivity=8)
        touching = np.unique(labels[ends])
        found |= np.isin(labels, touching[touching > 0]) & corridor & alike
    return found


def lone_lens(mask: np.ndarray, image: np.ndarray, landmarks: np.ndarray | None, visible: np.ndarray,
              config: GlassesConfig = GlassesConfig()) -> np.ndarray | None:
    """(H, W) bool: the parts of M_O that are one lens of a pair whose other lens S did not see, or None.

    ``mask`` (H, W): M_O on the aligned crop; ``image`` (H, W, 3) uint8 RGB crop; ``landmarks`` (468, 2+) mesh
    points in crop pixels; ``visible`` (H, W): S's P(face). Grey reflective sunglasses can be *other* to S on
    one lens and *face* on the other (LFW Abbas Kiarostami, parser4): no frame is traced, so
    :func:`find_glasses` finds no pair, and repainting the one lens leaves the pair in pieces, worse than
    the input. One lens is taken as seen alone when M_O covers ``lone_lens`` of one lens ellipse and hardly
    any of the other (``other_lens``), what it covers is not skin-coloured (``lens_contrast``), and the
    other lens, pixel for mirrored pixel across the eye line's perpendicular, has the same colour
    (``same_glass``). Only M_O components lying around the eyes (``lens_zone_share``) are returned: the
    caller takes them out of M_O, so the pair is kept whole.
    """
    occluded = np.asarray(mask) > 0.5
    line = EyeLine.of(landmarks, occluded.shape)
    if line is None or not occluded.any():
        return None
    centres = (line.right, line.left)
    lenses, zones, coords = [], [], []
    for centre in centres:
        u, v = line.axes(centre)
        radius = lens_radius(u, v, config)
        lenses.append(radius <= 1.0)
        zones.append(radius < config.ring[1])
        coords.append((u, v))
    cover = [float(occluded[lens].mean()) if lens.any() else 0.0 for lens in lenses]
    seen = int(np.argmax(cover))
    if cover[seen] < config.lone_lens or cover[1 - seen] >= config.other_lens * cover[seen]:
        return None
    on_lens = occluded & lenses[seen]
    if float(np.median(unlike_skin(image, occluded, visible)[on_lens])) < config.lens_contrast:
        return None
    # each covered pixel's mirror image on the other lens: the same (u, v) with u reversed (towards the nose)
    u, v = coords[seen][0][on_lens], coords[seen][1][on_lens]
    x, y = line.point(centres[1 - seen], -u, v)
    mx, my = np.rint(x - 0.5).astype(np.int64), np.rint(y - 0.5).astype(np.int64)
    h, w = occluded.shape
    inside = (mx >= 0) & (mx < w) & (my >= 0) & (my < h)
    if inside.mean() < 0.5:
        return None
    lab = cv2.cvtColor(np.asarray(image, np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    difference = np.linalg.norm(lab[on_lens][inside] - lab[my[inside], mx[inside]], axis=-1)
    if float(np.median(difference)) >= config.same_glass:
        return None
    count, labels = cv2.connectedComponents(occluded.astype(np.uint8), connectivity=8)
    around_eyes = zones[0] | zones[1]
    lone = np.zeros_like(occluded)
    for label in np.unique(labels[on_lens]):
        component = labels == label
        if float(around_eyes[component].mean()) >= config.lens_zone_share:
            lone |= component
    return lone if lone.any() else None

"""Realistic procedural face masks: surgical (pleated, light blue / white) and KN95 (white, pointed tip).

What real masked photos show (RMFD) and the bank's templates and the cloth mask lacked:

- the lower edge runs *under* the jaw: the outline is the face outline pushed outwards, a
  little at the cheeks and by ``band`` IOD at the chin, so the mask covers the jaw line;
- thin ear loops from the mask's side corners to the ears, over cheek, hair or background;
- a soft shadow on the face along the top edge (the mask stands off the nose and the
  cheeks). S took that line for face and it stayed after removal, so it is part of the
  occluder here: alpha 1, colour = the face below it darkened. S learns to take it, G to fill it;
- surgical: 2-4 horizontal pleats that fan in towards the side hems, a hemmed top edge with
  the nose wire peaking over the nose, shading darker towards the sides and under the jaw;
- KN95: two panels meeting in a centre seam, a pointed tip below the chin, a welded border.

Everything is drawn in the face frame (:mod:`deocclude.synth.geometry`), so it follows the
face's size, rotation and, through the landmarks, its yaw. Continuous knobs have held-out
test sub-ranges (:func:`~deocclude.synth.params.split_uniform`); the test split draws only
white and light-blue surgical masks and white KN95s (the ``facemask`` protocol).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.synth.draw import bezier, fill_polygon, fine_polyline, over
from deocclude.synth.geometry import (
    CHIN,
    FACE_OVAL,
    LOWER_LIP,
    NOSE_RIDGE,
    NOSE_TIP,
    FaceFrame,
    ear_point,
    ridge_point,
    side_contour,
)
from deocclude.synth.params import pick, split_uniform
from deocclude.synth.sprite import jitter_colour

Layer = tuple[np.ndarray, np.ndarray, str]  # colour (H, W, 3), alpha (H, W), source name


def _resample(pts: np.ndarray, n: int) -> np.ndarray:
    """A polyline resampled to ``n`` points evenly spaced along its length."""
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], axis=1)


def _below(chain: np.ndarray, height: float) -> np.ndarray:
    """The part of a downward polyline below face-frame ``height``, starting exactly at it."""
    k = int(np.argmax(chain[:, 1] >= height)) if (chain[:, 1] >= height).any() else len(chain) - 1
    if k == 0:
        return chain
    a, b = chain[k - 1], chain[k]
    t = (height - a[1]) / max(b[1] - a[1], 1e-9)
    return np.vstack([a + t * (b - a), chain[k:]])


def _monotone_interp(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``np.interp`` over a polyline whose x should increase (small reversals are flattened)."""
    xs = np.maximum.accumulate(xs) + 1e-7 * np.arange(len(xs))
    return np.interp(x, xs, ys)


@dataclass(frozen=True)
class MaskShape:
    """A mask's outline in face-frame units and what its shading needs."""

    top: np.ndarray  # (K, 2) top edge, left corner -> nose -> right corner
    lower: np.ndarray  # (M, 2) sides and bottom, left corner -> under the chin -> right corner
    ridge: np.ndarray  # (2,) top of the mask over the nose

    @property
    def outline(self) -> np.ndarray:
        return np.vstack([self.top, self.lower[::-1][1:-1]])

    def v_map(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(v, height): 0 at the top edge, 1 at the lower edge, per pixel; height in IOD."""
        top = _monotone_interp(x, self.top[:, 0], self.top[:, 1])
        bottom = _monotone_interp(x, self.lower[:, 0], self.lower[:, 1])
        height = np.maximum(bottom - top, 1e-3)
        return (y - top) / height, height

    def lateral(self, x: np.ndarray) -> np.ndarray:
        """-1 at the left corner, 0 over the nose, 1 at the right corner."""
        left = (x - self.ridge[0]) / max(self.ridge[0] - self.top[0, 0], 1e-3)
        right = (x - self.ridge[0]) / max(self.top[-1, 0] - self.ridge[0], 1e-3)
        return np.clip(np.where(x < self.ridge[0], left, right), -1.5, 1.5)


def _lower_chain(landmarks: np.ndarray, frame: FaceFrame, corner_y: tuple[float, float],
                 side_out: float, band: float) -> np.ndarray:
    """The face outline from the left corner height under the chin to the right corner height,
    pushed outwards by ``side_out`` at the corners growing to ``band`` at the chin (IOD)."""
    parts = [_below(_resample(side_contour(landmarks, frame, s), 64), y) for s, y in ((-1, corner_y[0]),
                                                                                       (1, corner_y[1]))]
    chain = np.vstack([parts[0], parts[1][::-1][1:]])
    tangent = np.gradient(chain, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.maximum(np.hypot(*normal.T), 1e-9)[:, None]
    centre = frame.to_face(np.asarray(landmarks, dtype=np.float64)[NOSE_TIP, :2]) + [0.0, 0.3]
    normal *= np.where(((chain - centre) * normal).sum(1) < 0, -1.0, 1.0)[:, None]
    y0, y1 = min(corner_y), chain[:, 1].max()
    f = np.clip((chain[:, 1] - y0) / max(y1 - y0, 1e-3), 0, 1) ** 1.5
    return chain + normal * (side_out + (band - side_out) * f)[:, None]


def _top_edge(left: np.ndarray, ridge: np.ndarray, right: np.ndarray, power: float, n: int = 24) -> np.ndarray:
    """Corner -> nose -> corner; ``power`` < 1 a tent over the nose, > 1 a rounder arch."""
    halves = []
    for corner in (left, right):
        u = np.linspace(1.0, 0.0, n) if corner is left else np.linspace(0.0, 1.0, n)
        x = ridge[0] + (corner[0] - ridge[0]) * u
        y = ridge[1] + (corner[1] - ridge[1]) * u ** power
        halves.append(np.stack([x, y], axis=1))
    return np.vstack([halves[0], halves[1][1:]])


def mask_shape(landmarks: np.ndarray, frame: FaceFrame, ridge_y: float, drop: float, side_out: float,
               band: float, power: float) -> MaskShape:
    """Outline of a mask whose top sits on the nose ridge at height ``ridge_y`` (face frame) and
    meets the face outline ``drop`` IOD lower; sides ``side_out`` outside the outline, ``band``
    under the chin."""
    ridge = ridge_point(landmarks, frame, ridge_y)
    corner_y = ridge[1] + drop
    lower = _lower_chain(landmarks, frame, (corner_y, corner_y), side_out, band)
    left, right = lower[0], lower[-1]
    ridge = np.array([np.clip(ridge[0], left[0] + 0.1, right[0] - 0.1), ridge[1]])
    return MaskShape(top=_top_edge(left, ridge, right, power), lower=lower, ridge=ridge)


def _pixel_frame(h: int, w: int, frame: FaceFrame) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    f = frame.to_face(np.stack([xx, yy], axis=-1))
    return f[..., 0], f[..., 1]


def _chain_at(chain: np.ndarray, height: float) -> np.ndarray:
    """First point of a downward chain at face-frame ``height`` (its end when it never gets there)."""
    return _below(chain, height)[0]


def ear_loops(h: int, w: int, landmarks: np.ndarray, frame: FaceFrame, shape: MaskShape,
              attach_low: float, rng: np.random.Generator, split: str) -> np.ndarray:
    """Alpha of the two ear loops: from each side's top corner and lower attachment to the ear."""
    thick = split_uniform(rng, 0.018, 0.05, split, (0.03, 0.034)) * frame.iod
    chin = int(np.argmax(shape.lower[:, 1]))
    sides = ((-1, shape.lower[: chin + 1], shape.top[0]), (1, shape.lower[chin:][::-1], shape.top[-1]))
    alpha = np.zeros((h, w), np.float32)
    for side, chain, corner in sides:
        ear_top = ear_point(landmarks, frame, side, rng.uniform(-0.05, 0.2), rng.uniform(0.04, 0.18))
        ear_low = ear_point(landmarks, frame, side, rng.uniform(0.45, 0.75), rng.uniform(0.04, 0.18))
        low = _chain_at(chain, attach_low)
        for start, end in ((corner + [-side * 0.02, 0.02], ear_top), (low, ear_low)):
            mid = (start + end) / 2 + [side * rng.uniform(0.0, 0.08), rng.uniform(-0.03, 0.08)]
            pts = frame.to_image(bezier(start, mid, end, 16))
            alpha = np.maximum(alpha, fine_polyline(h, w, pts, thick))
    return alpha


def _top_shadow(img: np.ndarray, x: np.ndarray, y: np.ndarray, shape: MaskShape, frame: FaceFrame,
                rng: np.random.Generator, split: str, strength: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The face just above the top edge, darkened: (colour, alpha) with alpha 1 where it is darker."""
    width = split_uniform(rng, 0.04, 0.12, split, (0.07, 0.078))
    depth = rng.uniform(*strength)
    # the antialiased fill of the mask reaches about a pixel past its outline: start the shadow there
    top = _monotone_interp(x, shape.top[:, 0], shape.top[:, 1]) - 1.0 / frame.iod
    d = (top - y) / width  # 0 at the edge, 1 at the shadow's far side (negative: under the mask)
    lat = np.abs(shape.lateral(x))
    s = depth * np.clip(1 - d, 0, 1) * (d > -1) * np.clip(1 - 0.6 * lat ** 3, 0, 1)
    s = s * ((x > shape.top[0, 0]) & (x < shape.top[-1, 0]))
    alpha = np.clip(s / 0.03, 0, 1).astype(np.float32)
    return (img * (1 - s[..., None])).astype(np.float32), alpha


def _face_inside(h: int, w: int, landmarks: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """The landmark face oval, softened (1 inside)."""
    inside = fill_polygon(h, w, np.asarray(landmarks, dtype=np.float64)[list(FACE_OVAL), :2])
    sigma = max(0.5, 0.06 * frame.iod)
    k = int(2 * np.ceil(3 * sigma) + 1)
    return cv2.GaussianBlur(inside, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)


def _fabric(h: int, w: int, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Fine multiplicative noise around 1 (non-woven fabric)."""
    g = rng.normal(0.0, 1.0, (h // 2 + 2, w // 2 + 2)).astype(np.float32)
    return 1.0 + amount * cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)


def _white_point(img: np.ndarray, rng: np.random.Generator) -> float:
    """How bright white looks in this photo: a dim photo greys a white mask."""
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(np.clip(np.percentile(lum, 99) / 0.85, 0.5, 1.05) ** rng.uniform(0.2, 0.6))


def _shading(x: np.ndarray, y: np.ndarray, shape: MaskShape, inside: np.ndarray, lip_y: float,
             rng: np.random.Generator) -> np.ndarray:
    """What every mask shares: darker towards the sides, a light direction, darker under the jaw."""
    lat = shape.lateral(x)
    shade = 1 - rng.uniform(0.05, 0.25) * np.abs(lat) ** 2.5
    shade *= 1 + rng.uniform(-0.1, 0.1) * np.clip(lat, -1, 1)
    under = (1 - inside) * np.clip((y - lip_y) / 0.3, 0, 1)
    return shade * (1 - rng.uniform(0.1, 0.4) * under)


def _finish(body_colour: np.ndarray, body: np.ndarray, loop_colour: np.ndarray, loops: np.ndarray,
            shadow: tuple[np.ndarray, np.ndarray], img: np.ndarray, frame: FaceFrame, rng: np.random.Generator,
            jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Light the mask like the photo, soften it like the photo's optics, stack shadow, loops and body."""
    light = _white_point(img, rng)
    h, w = body.shape
    body_rgb = jitter_colour(np.clip(body_colour * light, 0, 1), rng, 0.3 * jitter)
    sigma = rng.uniform(0.2, 0.8) * frame.iod / 50.0
    if sigma > 0.3:
        k = int(2 * np.ceil(3 * sigma) + 1)
        body_rgb = cv2.GaussianBlur(body_rgb, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
    loop_rgb = np.broadcast_to(np.clip(loop_colour * light, 0, 1).astype(np.float32), (h, w, 3))
    return over([shadow, (loop_rgb, loops), (body_rgb, body)])


def _hsv(hue: float, sat: float, val: float) -> np.ndarray:
    return np.asarray(colorsys.hsv_to_rgb(hue % 1.0, sat, val), np.float32)


def _pick_colour(rng: np.random.Generator, split: str, kinds: dict[str, tuple], weights: tuple[float, ...],
                 test_weights: tuple[float, ...]) -> tuple[str, np.ndarray]:
    """A named colour kind, then hue / saturation / value inside its ranges (each with a held-out middle)."""
    kind = pick(rng, tuple(kinds), test_weights if split == "test" else weights)
    t = [split_uniform(rng, 0.0, 1.0, split, (0.45, 0.55)) for _ in range(3)]
    return kind, _hsv(*(lo + ti * (hi - lo) for (lo, hi), ti in zip(kinds[kind], t)))


# (hue, saturation, value) ranges; the test split draws only white and light blue (surgical), white (KN95)
SURGICAL_COLOURS = {"blue": ((0.52, 0.58), (0.12, 0.42), (0.85, 0.97)),
                    "white": ((0.0, 1.0), (0.0, 0.05), (0.88, 0.99)),
                    "green": ((0.4, 0.48), (0.2, 0.45), (0.75, 0.92)), "black": ((0.55, 0.7), (0.0, 0.2), (0.08, 0.2))}
KN95_COLOURS = {"white": ((0.0, 1.0), (0.0, 0.04), (0.86, 0.99)), "grey": ((0.0, 1.0), (0.0, 0.05), (0.5, 0.8)),
                "black": ((0.0, 1.0), (0.0, 0.1), (0.06, 0.18)), "pastel": ((0.0, 1.0), (0.12, 0.3), (0.8, 0.95))}


def draw_surgical_mask(h: int, w: int, landmarks: np.ndarray, frame: FaceFrame, rng: np.random.Generator,
                       split: str, img: np.ndarray, jitter: float = 1.0) -> Layer:
    """A pleated surgical mask with ear loops, a band under the jaw and a shadow along its top edge."""
    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    eyes_y, tip_y = (frame.to_face(lm[i])[1] for i in (NOSE_RIDGE[0], NOSE_TIP))
    ridge_y = eyes_y + split_uniform(rng, 0.3, 0.75, split, (0.5, 0.55)) * (tip_y - eyes_y)
    shape = mask_shape(lm, frame, ridge_y, drop=rng.uniform(-0.02, 0.15), side_out=rng.uniform(0.0, 0.12),
                       band=split_uniform(rng, 0.1, 0.35, split, (0.2, 0.24)), power=rng.uniform(0.5, 1.5))
    kind, base = _pick_colour(rng, split, SURGICAL_COLOURS, (0.45, 0.35, 0.1, 0.1), (0.55, 0.45, 0.0, 0.0))
    x, y = _pixel_frame(h, w, frame)
    v, height = shape.v_map(x, y)
    down = v * height  # IOD below the top edge
    up = (1 - v) * height  # IOD above the lower edge
    shade = _shading(x, y, shape, _face_inside(h, w, lm, frame), frame.to_face(lm[LOWER_LIP])[1], rng)
    # pleats: a dark fold line with a lit strip above it, fanning in towards the sides
    n = pick(rng, (2, 3, 4), (0.0, 1.0, 0.0) if split == "test" else (0.25, 0.5, 0.25))
    lo, hi = rng.uniform(0.15, 0.3), rng.uniform(0.65, 0.85)
    fold = rng.uniform(0.02, 0.04)
    dark, lit = rng.uniform(0.06, 0.22), rng.uniform(0.02, 0.08)
    for k in range(n):
        vk = lo + (hi - lo) * (k + 0.5) / n + rng.normal(0, 0.02)
        dist = (v - vk) * height
        shade = shade * (1 - dark * np.exp(-((dist / fold) ** 2))
                         + lit * np.exp(-(((dist + 2.5 * fold) / (2 * fold)) ** 2)))
    hem = rng.uniform(0.05, 0.1)
    stitch = max(0.008, 0.6 / frame.iod)
    shade = shade * (1 + 0.03 * (down < hem)) * (1 - 0.07 * np.exp(-(((down - hem) / stitch) ** 2)))
    shade = shade * (1 - 0.07 * np.exp(-(((up - hem) / stitch) ** 2)))
    shade = shade * _fabric(h, w, rng, 0.01)
    body = fill_polygon(h, w, frame.to_image(shape.outline))
    loops = ear_loops(h, w, lm, frame, shape, rng.uniform(0.95, 1.3), rng, split)
    loop_colour = base if rng.random() < 0.5 else np.array([0.95, 0.95, 0.94], np.float32)
    shadow = _top_shadow(img, x, y, shape, frame, rng, split, (0.12, 0.4))
    colour, alpha = _finish(base * shade[..., None], body, loop_colour, loops, shadow, img, frame, rng, jitter)
    return colour, alpha, f"surgical_mask_{kind}"


def draw_kn95_mask(h: int, w: int, landmarks: np.ndarray, frame: FaceFrame, rng: np.random.Generator,
                   split: str, img: np.ndarray, jitter: float = 1.0) -> Layer:
    """A KN95: two panels with a centre seam, high on the nose, a pointed tip under the chin, ear loops."""
    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    eyes_y, tip_y = (frame.to_face(lm[i])[1] for i in (NOSE_RIDGE[0], NOSE_TIP))
    ridge_y = eyes_y + split_uniform(rng, 0.2, 0.6, split, (0.38, 0.43)) * (tip_y - eyes_y)
    shape = mask_shape(lm, frame, ridge_y, drop=rng.uniform(0.1, 0.35), side_out=rng.uniform(0.0, 0.12),
                       band=rng.uniform(0.05, 0.2), power=rng.uniform(0.8, 1.4))
    # the pointed tip: below lip height the outline runs straight-ish to a point under the chin
    chin = frame.to_face(lm[CHIN])
    lip_y = frame.to_face(lm[LOWER_LIP])[1]
    tip = chin + [rng.normal(0, 0.03), split_uniform(rng, 0.15, 0.45, split, (0.28, 0.32))]
    v_y = lip_y + rng.uniform(-0.1, 0.15)
    mid_face = frame.to_face(lm[NOSE_TIP]) + [0.0, 0.3]
    c = int(np.argmax(shape.lower[:, 1]))
    left, right = shape.lower[: c + 1], shape.lower[c:][::-1]
    edges = []
    for chain in (left, right):
        keep = chain[chain[:, 1] < v_y]
        if len(keep) == 0:
            keep = chain[:1]
        ctrl = _chain_at(chain, (v_y + chin[1]) / 2)
        ctrl = ctrl + 0.12 * (ctrl - mid_face) / max(float(np.hypot(*(ctrl - mid_face))), 1e-6)  # over the jaw
        edges.append(np.vstack([keep, bezier(keep[-1], ctrl, tip, 12)[1:]]))
    shape = MaskShape(top=shape.top, lower=np.vstack([edges[0], edges[1][::-1][1:]]), ridge=shape.ridge)
    kind, base = _pick_colour(rng, split, KN95_COLOURS, (0.7, 0.1, 0.1, 0.1), (1.0, 0.0, 0.0, 0.0))
    x, y = _pixel_frame(h, w, frame)
    shade = _shading(x, y, shape, _face_inside(h, w, lm, frame), lip_y, rng)
    # centre seam along the face's midline, the two panels lit differently
    mid = np.array([shape.ridge, frame.to_face(lm[NOSE_TIP]), frame.to_face(lm[LOWER_LIP]), chin, tip])
    x_mid = _monotone_interp(y, mid[:, 1], mid[:, 0])
    seam = rng.uniform(0.012, 0.025)
    shade = shade * (1 + rng.uniform(-0.12, 0.12) * np.tanh((x - x_mid) / 0.05))
    shade = shade * (1 - rng.uniform(0.08, 0.2) * np.exp(-(((x - x_mid) / seam) ** 2)))
    body = fill_polygon(h, w, frame.to_image(shape.outline))
    # welded border: a line a little inside the outline
    dist = cv2.distanceTransform((body > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    inset = rng.uniform(0.04, 0.08) * frame.iod
    shade = shade * (1 - rng.uniform(0.05, 0.12) * np.exp(-(((dist - inset) / max(0.6, 0.012 * frame.iod)) ** 2)))
    shade = shade * _fabric(h, w, rng, 0.01)
    loops = ear_loops(h, w, lm, frame, shape, v_y - 0.05, rng, split)
    loop_colour = np.array([0.96, 0.96, 0.95], np.float32) if rng.random() < 0.7 else base
    shadow = _top_shadow(img, x, y, shape, frame, rng, split, (0.15, 0.45))
    colour, alpha = _finish(base * shade[..., None], body, loop_colour, loops, shadow, img, frame, rng, jitter)
    return colour, alpha, f"kn95_mask_{kind}"

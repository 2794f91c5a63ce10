"""Procedural eyeglasses and sunglasses.

The bank has only three emoji glasses, while sunglasses are the paper's main test case, so
glasses are drawn: four frame families (round, rectangular, aviator, cat-eye) with
continuous shape knobs, frame thickness and colour, bridge (double for aviators), temples,
and lenses from clear to opaque. A *clear* lens gets alpha 0: the eye behind it is still
visible, which per the paper is not an occlusion; only the frame occludes. Tinted lenses
get alpha = their opacity (optionally a vertical gradient), and a highlight that changes
colour but not alpha.

Everything is drawn at about twice the final size in the glasses' own frame (unit = the
distance between the lens centres) and then warped onto the eyes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.synth.config import EyewearConfig
from deocclude.synth.params import pick, split_uniform
from deocclude.synth.sprite import Sprite
from deocclude.synth.textures import procedural_texture, random_colour

SHAPES = ("round", "rectangular", "aviator", "cat_eye")
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class GlassesDesign:
    """All knobs of one pair (lengths in units of the lens-centre distance)."""

    shape: str
    lens_w: float
    lens_h: float
    exponent: float  # superellipse exponent (2 = ellipse, large = rectangle)
    droop: float  # aviator: how far the inner bottom drops; cat-eye: outer lift
    thickness: float
    opacity: float  # 0 = clear lens (alpha 0)
    gradient: float  # 0 = uniform tint; 1 = clear at the bottom
    tint: tuple[float, float, float]
    frame_colour: tuple[float, float, float]
    tortoise: bool
    double_bridge: bool
    temple_len: float
    highlight: float

    @property
    def sunglasses(self) -> bool:
        return self.opacity > 0


def _rgb(colour: np.ndarray) -> tuple[float, float, float]:
    r, g, b = (float(v) for v in colour)
    return r, g, b


def random_design(rng: np.random.Generator, split: str, cfg: EyewearConfig,
                  lens: str | None = None) -> GlassesDesign:
    """Draw a design; ``lens`` forces 'clear' | 'tinted' | 'dark'."""
    shape = pick(rng, SHAPES)
    lens = lens or pick(rng, ("clear", "tinted", "dark"), cfg.lens_weights)
    lens_w = split_uniform(rng, 0.62, 0.9, split, (0.74, 0.78))
    aspect = {"round": (0.82, 1.0), "rectangular": (0.5, 0.78), "aviator": (0.72, 0.92),
              "cat_eye": (0.55, 0.75)}[shape]
    lens_h = lens_w * rng.uniform(*aspect)
    exponent = {"round": 2.0, "rectangular": split_uniform(rng, 3.0, 8.0, split, (4.8, 5.6)),
                "aviator": 2.2, "cat_eye": split_uniform(rng, 2.2, 4.0, split, (2.9, 3.2))}[shape]
    droop = rng.uniform(0.15, 0.35)
    metal = shape == "aviator" or rng.random() < 0.2
    thickness = rng.uniform(0.012, 0.03) if metal else split_uniform(rng, 0.03, 0.09, split, (0.055, 0.062))
    # frame colour: black / tortoise / metal / any colour; test hues held out
    hue_band = (0.78, 0.98) if split == "test" else (-0.02, 0.78)
    kind = pick(rng, ("black", "tortoise", "metal", "colour"), (0.4, 0.2, 0.2, 0.2))
    if metal and kind == "tortoise":
        kind = "metal"
    if kind == "black":
        frame = np.full(3, rng.uniform(0.02, 0.15))
    elif kind == "metal":
        frame = random_colour(rng, (0.08, 0.16), (0.0, 0.6), (0.55, 0.95))
    elif kind == "tortoise":
        frame = random_colour(rng, (0.03, 0.09), (0.5, 0.9), (0.2, 0.5))
    else:
        frame = random_colour(rng, hue_band, (0.3, 1.0), (0.2, 0.9))
    if lens == "clear":
        opacity = 0.0
        tint = np.zeros(3)
    else:
        lo, hi = cfg.tinted_opacity if lens == "tinted" else cfg.dark_opacity
        opacity = rng.uniform(lo, hi)
        tint = random_colour(rng, hue_band, (0.0, 0.8), (0.03, 0.45))
    return GlassesDesign(
        shape=shape, lens_w=lens_w, lens_h=lens_h, exponent=exponent, droop=droop,
        thickness=thickness, opacity=float(opacity), gradient=float(rng.random() * 0.7 if rng.random() < 0.3 else 0.0),
        tint=_rgb(tint), frame_colour=_rgb(frame),
        tortoise=kind == "tortoise", double_bridge=shape == "aviator" or rng.random() < 0.1,
        temple_len=rng.uniform(0.25, 0.6), highlight=rng.uniform(0.0, 0.35),
    )


def lens_outline(d: GlassesDesign, n: int = 72) -> np.ndarray:
    """Outline of the image-left lens, centred at 0, x towards the nose (n, 2)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    e = 2.0 / d.exponent
    x = np.sign(c) * np.abs(c) ** e * d.lens_w / 2
    y = np.sign(s) * np.abs(s) ** e * d.lens_h / 2
    if d.shape == "aviator":
        below = np.clip(s, 0, None)
        y = np.where(s < 0, y * 0.85, y * (1 + d.droop * 0.8))
        x = x + d.droop * 0.25 * d.lens_w * below * np.clip(c + 0.3, 0, None)
    elif d.shape == "cat_eye":
        outer_top = np.clip(-c, 0, None) ** 2 * np.clip(-s, 0, None)
        y = y - d.droop * d.lens_h * outer_top
        x = x - 0.1 * d.droop * d.lens_w * outer_top
    return np.stack([x, y], axis=1)


def _poly(mask: np.ndarray, pts: np.ndarray, closed: bool, thickness: int | None) -> None:
    p = np.round(pts * _ONE).astype(np.int32).reshape(-1, 1, 2)
    if thickness is None:
        cv2.fillPoly(mask, [p], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    else:
        cv2.polylines(mask, [p], closed, 255, thickness=max(1, thickness), lineType=cv2.LINE_AA, shift=_SHIFT)


def draw_glasses(d: GlassesDesign, unit_px: float, rng: np.random.Generator) -> tuple[Sprite, np.ndarray]:
    """Render a design; ``unit_px`` = lens-centre distance in sprite px.

    Returns the sprite and the two lens centres (2, 2) in sprite px (image-left first).
    """
    u = float(unit_px)
    half_w = 0.5 + d.lens_w / 2 + d.temple_len + d.thickness
    half_h = max(d.lens_h * (0.8 + d.droop), 0.5)
    w, h = int(np.ceil(2 * half_w * u)) + 4, int(np.ceil(2 * half_h * u)) + 4
    centre = np.array([w / 2, h / 2])
    lc = np.array([centre - [0.5 * u, 0], centre + [0.5 * u, 0]])
    outline = lens_outline(d) * u
    lenses = [lc[0] + outline, lc[1] + outline * [-1, 1]]  # mirror: x towards the nose
    th = max(1, int(round(d.thickness * u)))
    lens_m = np.zeros((h, w), np.uint8)
    frame_m = np.zeros((h, w), np.uint8)
    for pts in lenses:
        _poly(lens_m, pts, True, None)
        _poly(frame_m, pts, True, th)
    # bridge: an arch between the inner upper edges of the lenses
    y_top = -0.22 * d.lens_h * u
    inner = [lenses[0][np.argmax(lenses[0][:, 0])], lenses[1][np.argmin(lenses[1][:, 0])]]
    xs = np.linspace(inner[0][0] - th, inner[1][0] + th, 12)
    arch = centre[1] + y_top - 0.12 * u * np.sin(np.linspace(0, np.pi, 12))
    _poly(frame_m, np.stack([xs, arch], 1), False, th)
    if d.double_bridge:
        top = min(p[:, 1].min() for p in lenses) + th
        xs2 = np.linspace(lc[0][0], lc[1][0], 12)
        _poly(frame_m, np.stack([xs2, np.full(12, top)], 1), False, max(1, th * 3 // 4))
    # temples: from the outer upper edge outwards (seen from the front)
    for i, sgn in ((0, -1), (1, 1)):
        pts = lenses[i]
        outer = pts[np.argmin(pts[:, 0])] if sgn < 0 else pts[np.argmax(pts[:, 0])]
        y0 = outer[1] - 0.25 * d.lens_h * u
        x1 = outer[0] + sgn * d.temple_len * u
        _poly(frame_m, np.array([[outer[0], y0], [x1, y0 + 0.04 * u]]), False, max(1, int(th * 1.2)))
    frame_a = frame_m.astype(np.float32) / 255.0
    lens_a = lens_m.astype(np.float32) / 255.0
    colour = np.empty((h, w, 3), np.float32)
    colour[:] = np.asarray(d.tint, np.float32)
    yy = (np.arange(h, dtype=np.float32)[:, None] - (centre[1] - d.lens_h * u / 2)) / max(d.lens_h * u, 1.0)
    lens_opacity = d.opacity * (1 - d.gradient * np.clip(yy, 0, 1)) * np.ones((1, w), np.float32)
    if d.opacity > 0 and d.highlight > 0:
        xx = np.arange(w, dtype=np.float32)[None, :]
        band = np.abs(((xx + yy * u * 0.8) % (0.5 * u)) - 0.25 * u) < 0.04 * u
        colour = np.where(band[..., None], colour * (1 - d.highlight) + d.highlight, colour)
    frame_col = np.asarray(d.frame_colour, np.float32)
    if d.tortoise:
        tex = procedural_texture(h, w, rng, "noise")
        frame_rgb = np.clip(frame_col * (0.45 + 0.9 * tex[..., :1]), 0, 1)
    else:
        frame_rgb = np.broadcast_to(frame_col, (h, w, 3))
    alpha_lens = lens_a * lens_opacity
    alpha = np.maximum(frame_a, alpha_lens)
    # colour: frame where frame dominates
    wf = np.where(alpha > 1e-6, frame_a / np.maximum(frame_a + alpha_lens * (1 - frame_a), 1e-6), 0)[..., None]
    colour = np.clip(wf * frame_rgb + (1 - wf) * colour, 0, 1).astype(np.float32)
    return Sprite(colour=colour, alpha=alpha.astype(np.float32), name=f"glasses_{d.shape}"), lc

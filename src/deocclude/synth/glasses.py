"""Realistic thin eyeglasses: 1-3 px frames at N = 128, temples to the ears, lens reflections.

The ``eyewear`` glasses (:mod:`deocclude.synth.eyewear`) are a sprite with frames of 1-4 px,
temples that stop short of the ears and clear lenses that are simply not there. Everyday
glasses in photos have thin metal or acetate frames (full rim, half rim or rimless), temples
that run back over the side of the head to the ears, nose pads, and reflections on the
lenses. These are drawn straight onto the canvas in the face frame, with supersampled lines
(a 1.3 px frame stays 1.3 px wide), so the temples end at the ears (landmarks).

A clear lens is still no occlusion (docs/method.md §2): the eye behind it stays alpha 0. Its
reflections are: alpha = their strength (up to 0.6), colour = the reflected light, like a pane
of glass. A light tint adds a faint uniform alpha.
"""

from __future__ import annotations

import numpy as np

from deocclude.synth.draw import bezier, fill_polygon, fine_polyline, over
from deocclude.synth.eyewear import SHAPES, GlassesDesign, lens_outline
from deocclude.synth.geometry import FaceFrame, ear_point
from deocclude.synth.params import pick, split_uniform
from deocclude.synth.textures import procedural_texture, random_colour

Layer = tuple[np.ndarray, np.ndarray, str]  # colour (H, W, 3), alpha (H, W), source name


def _design(rng: np.random.Generator, split: str) -> GlassesDesign:
    """Lens shape knobs (in units of the lens-centre distance); thickness etc. are drawn by the caller."""
    shape = pick(rng, SHAPES, (0.3, 0.4, 0.15, 0.15))
    lens_w = split_uniform(rng, 0.62, 0.88, split, (0.74, 0.77))
    aspect = {"round": (0.8, 1.0), "rectangular": (0.5, 0.75), "aviator": (0.72, 0.9), "cat_eye": (0.55, 0.72)}[shape]
    exponent = {"round": 2.0, "rectangular": split_uniform(rng, 3.0, 7.0, split, (4.6, 5.2)), "aviator": 2.2,
                "cat_eye": split_uniform(rng, 2.2, 3.8, split, (2.9, 3.1))}[shape]
    return GlassesDesign(shape=shape, lens_w=lens_w, lens_h=lens_w * rng.uniform(*aspect), exponent=exponent,
                         droop=rng.uniform(0.1, 0.3), thickness=0.0, opacity=0.0, gradient=0.0, tint=(0.0, 0.0, 0.0),
                         frame_colour=(0.0, 0.0, 0.0), tortoise=False, double_bridge=False, temple_len=0.0,
                         highlight=0.0)


def _frame_colour(rng: np.random.Generator, split: str, metal: bool) -> tuple[str, np.ndarray]:
    hue_band = (0.78, 0.98) if split == "test" else (-0.02, 0.78)
    kind = pick(rng, ("black", "tortoise", "metal", "colour"), (0.35, 0.2, 0.3, 0.15))
    if metal and kind == "tortoise":
        kind = "metal"
    if kind == "black":
        return kind, np.full(3, rng.uniform(0.02, 0.15), np.float32)
    if kind == "metal":  # gold, silver, gunmetal
        return kind, random_colour(rng, (0.08, 0.16), (0.0, 0.6), (0.3, 0.95))
    if kind == "tortoise":
        return kind, random_colour(rng, (0.03, 0.09), (0.5, 0.9), (0.2, 0.5))
    return kind, random_colour(rng, hue_band, (0.3, 1.0), (0.2, 0.9))


def _reflections(x: np.ndarray, y: np.ndarray, centres: np.ndarray, rng: np.random.Generator,
                 split: str) -> tuple[np.ndarray, np.ndarray]:
    """Light reflected by the lenses per pixel (before clipping to the lenses): the tinted sheen of an
    anti-reflection coating (<= 0.18) and white highlights (<= 0.6)."""
    sheen = np.zeros_like(x)
    if rng.random() < 0.6:
        sheen += rng.uniform(0.03, 0.12) * (1 + 0.5 * np.tanh((y - centres[0, 1]) / 0.2) * rng.uniform(-1, 1))
    out = np.zeros_like(x)
    kind = pick(rng, ("streaks", "window", "none"), (0.45, 0.4, 0.15))
    if kind == "streaks":  # parallel bright bands across both lenses (the same light source)
        a = np.radians(split_uniform(rng, 20.0, 70.0, split, (42.0, 48.0)) * (1 if rng.random() < 0.5 else -1))
        u = x * np.cos(a) + y * np.sin(a)
        width, gap = rng.uniform(0.02, 0.1), rng.uniform(0.06, 0.2)
        u0 = rng.uniform(-0.3, 0.3)
        for j in range(int(rng.integers(1, 4))):
            out += rng.uniform(0.15, 0.5) * np.exp(-(((u - u0 - j * gap) / width) ** 2))
    elif kind == "window":  # a soft bright patch at the same place in both lenses
        off = np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.05)])
        half = np.array([rng.uniform(0.05, 0.15), rng.uniform(0.04, 0.1)])
        strength = rng.uniform(0.2, 0.55)
        for c in centres:
            dx = np.abs(x - c[0] - off[0]) / half[0]
            dy = np.abs(y - c[1] - off[1]) / half[1]
            out += strength * np.exp(-((dx ** 4 + dy ** 4) ** 0.5 * 1.5) ** 2)
    return np.clip(sheen, 0.0, 0.18), np.clip(out, 0.0, 0.6)


def draw_thin_glasses(h: int, w: int, landmarks: np.ndarray, frame: FaceFrame, rng: np.random.Generator,
                      split: str) -> Layer:
    """Thin-framed clear glasses on the eyes with temples to the ears and reflections on the lenses."""
    d = _design(rng, split)
    rim = pick(rng, ("full", "half", "rimless"), (0.7, 0.18, 0.12))
    metal = d.shape == "aviator" or rim != "full" or rng.random() < 0.35
    thick = split_uniform(rng, 0.018, 0.05, split, (0.032, 0.036)) * frame.iod * (0.65 if metal else 1.0)
    kind, fcol = _frame_colour(rng, split, metal)
    sep = rng.uniform(0.95, 1.1)
    down = rng.uniform(0.0, 0.12)
    a = np.radians(rng.uniform(-3, 3))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centres = np.array([[-0.5 * sep, 0.0], [0.5 * sep, 0.0]]) @ rot.T + [0.0, down]
    outline = lens_outline(d) * sep
    lenses = [centres[0] + outline @ rot.T, centres[1] + (outline * [-1, 1]) @ rot.T]  # x towards the nose
    lens_img = [frame.to_image(p) for p in lenses]
    inside = np.maximum(fill_polygon(h, w, lens_img[0]), fill_polygon(h, w, lens_img[1]))
    frame_a = np.zeros((h, w), np.float32)
    for q in lens_img:
        if rim == "full":
            frame_a = np.maximum(frame_a, fine_polyline(h, w, q, thick, closed=True))
        elif rim == "half":  # the upper rim only (lens_outline runs t = 0..2 pi; its upper half is pi..2 pi)
            n = len(q)
            frame_a = np.maximum(frame_a, fine_polyline(h, w, np.vstack([q[n // 2 - 3:], q[:4]]), thick * 1.3))
    lens_half_h = d.lens_h * sep / 2
    inner = [p[int(np.argmax(np.where(p[:, 1] < c[1], s * p[:, 0], -np.inf)))]
             for p, c, s in zip(lenses, centres, (1, -1))]
    outer = [p[int(np.argmax(np.where(p[:, 1] < c[1] - 0.3 * lens_half_h, s * p[:, 0], -np.inf)))]
             for p, c, s in zip(lenses, centres, (-1, 1))]
    bridge = bezier(inner[0], (inner[0] + inner[1]) / 2 + [0.0, -rng.uniform(0.0, 0.08)], inner[1], 12)
    frame_a = np.maximum(frame_a, fine_polyline(h, w, frame.to_image(bridge), thick))
    for side, hinge in zip((-1, 1), outer):
        ear = ear_point(landmarks, frame, side, rng.uniform(-0.12, 0.12) + down, rng.uniform(0.03, 0.2))
        start = hinge + [side * 0.5 * thick / frame.iod, 0.0]
        temple = bezier(start, (start + ear) / 2 + [0.0, -rng.uniform(0.0, 0.04)], ear, 12)
        frame_a = np.maximum(frame_a, fine_polyline(h, w, frame.to_image(temple), thick * rng.uniform(1.0, 1.5)))
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    if rng.random() < 0.15:  # a light tint (sun-sensitive or blue-light lenses)
        tint = random_colour(rng, (0.05, 0.12), (0.0, 0.5), (0.2, 0.5))
        layers.append((np.broadcast_to(tint, (h, w, 3)), inside * rng.uniform(0.06, 0.22)))
    f = frame.to_face(np.stack(np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5), -1))
    x, y = f[..., 0], f[..., 1]
    sheen, glare = _reflections(x, y, centres, rng, split)
    layers.append((np.broadcast_to(random_colour(rng, (0.25, 0.85), (0.2, 0.5), (0.7, 0.95)), (h, w, 3)),
                   inside * sheen.astype(np.float32)))  # green / blue / purple coatings
    layers.append((np.broadcast_to(random_colour(rng, (0.5, 0.7), (0.0, 0.1), (0.92, 1.0)), (h, w, 3)),
                   inside * glare.astype(np.float32)))
    if rim == "rimless" or (metal and rng.random() < 0.7):  # nose pads
        pads = np.zeros((h, w), np.float32)
        for p, c, s in zip(inner, centres, (1, -1)):
            pc = np.array([p[0] - s * 0.03, c[1] + 0.15 * lens_half_h])
            t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
            ell = pc + np.stack([0.025 * np.cos(t), 0.05 * np.sin(t)], 1)
            pads = np.maximum(pads, fill_polygon(h, w, frame.to_image(ell)))
        layers.append((np.full((h, w, 3), rng.uniform(0.75, 0.95), np.float32), pads * rng.uniform(0.4, 0.8)))
    if rim == "rimless":  # the lens edge catches the light
        edge = np.maximum(*(fine_polyline(h, w, q, 0.6, closed=True) for q in lens_img))
        layers.append((np.full((h, w, 3), rng.uniform(0.7, 0.95), np.float32), edge * rng.uniform(0.25, 0.5)))
    if kind == "tortoise":
        tex = procedural_texture(h, w, rng, "noise")
        frame_rgb = np.clip(fcol * (0.45 + 0.9 * tex[..., :1]), 0, 1).astype(np.float32)
    else:
        frame_rgb = np.broadcast_to(fcol.astype(np.float32), (h, w, 3))
    layers.append((frame_rgb, frame_a))
    colour, alpha = over(layers)
    return colour, alpha, f"thin_glasses_{d.shape}_{rim}_{kind}"

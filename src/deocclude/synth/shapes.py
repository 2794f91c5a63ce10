"""Procedural occluders drawn straight onto the face canvas: blobs, polygons, strokes,
scarves, bands and a cloth face mask.

They cover what the bank lacks (scarves, arbitrary shapes) and keep the synthesizer useful
without any data folder (a user's fresh clone). Shapes are drawn in the face frame, so
their size follows the face; colours come from :mod:`deocclude.synth.textures`.
"""

from __future__ import annotations

import numpy as np

from deocclude.synth.draw import bezier, fill_polygon, polyline, smooth_closed
from deocclude.synth.geometry import FaceFrame, mask_anchor_points
from deocclude.synth.params import pick, split_uniform

Layer = tuple[np.ndarray, np.ndarray, str]  # colour (H, W, 3), alpha (H, W), source name


def blob_outline(rng: np.random.Generator, split: str, radius: float) -> np.ndarray:
    """A smooth random closed curve around 0 (radius in frame units), (K, 2)."""
    k = int(rng.integers(4, 9))
    rough = split_uniform(rng, 0.1, 0.5, split, (0.28, 0.34))
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    r = np.ones_like(t)
    for j in range(1, k):
        r += rough / j * rng.normal() * np.cos(j * t + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.25, None) * radius
    aspect = rng.uniform(0.5, 1.0)
    return np.stack([r * np.cos(t), aspect * r * np.sin(t)], 1)


def polygon_outline(rng: np.random.Generator, split: str, radius: float) -> np.ndarray:
    """A random (possibly concave) star-shaped polygon around 0, (K, 2)."""
    k = int(rng.integers(3, 11))
    jag = split_uniform(rng, 0.0, 0.6, split, (0.3, 0.38))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = radius * (1 - jag * rng.random(k))
    return np.stack([r * np.cos(ang), r * np.sin(ang)], 1)


def draw_blob(h: int, w: int, frame: FaceFrame, rng: np.random.Generator, split: str,
              face_box: tuple[float, float, float, float]) -> tuple[np.ndarray, str]:
    """Alpha of a random blob / polygon / stroke set somewhere over the face."""
    kind = pick(rng, ("blob", "polygon", "strokes"), (0.4, 0.3, 0.3))
    x0, x1, y0, y1 = face_box
    mx, my = 0.15 * (x1 - x0), 0.15 * (y1 - y0)  # keep the centre on the face
    centre = np.array([rng.uniform(x0 + mx, x1 - mx), rng.uniform(y0 + my, y1 - my)])
    size = rng.uniform(0.3, 1.3)
    if kind == "strokes":
        alpha = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(1, 5))):
            p0 = centre + rng.normal(0, size, 2)
            p2 = centre + rng.normal(0, size, 2)
            p1 = (p0 + p2) / 2 + rng.normal(0, size * 0.5, 2)
            th = split_uniform(rng, 0.04, 0.35, split, (0.18, 0.22)) * frame.iod
            alpha = np.maximum(alpha, polyline(h, w, frame.to_image(bezier(p0, p1, p2, 24)), th))
        return alpha, "strokes"
    outline = blob_outline(rng, split, size) if kind == "blob" else polygon_outline(rng, split, size)
    a = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = frame.to_image(centre + outline @ rot.T)
    return fill_polygon(h, w, pts), kind


def draw_scarf(h: int, w: int, frame: FaceFrame, rng: np.random.Generator, split: str) -> tuple[np.ndarray, str]:
    """Alpha of a scarf/bandana over the lower face, or a straight band across the face."""
    kind = pick(rng, ("scarf", "band", "headband"), (0.55, 0.25, 0.2))
    if kind == "scarf":
        top = rng.uniform(0.25, 0.95)  # from the nose to the mouth
        xs = np.linspace(-1.9, 1.9, 9)
        peak = rng.uniform(0.0, 0.35)
        ys_top = top + peak * (np.abs(xs) / 1.9) ** 1.5 + rng.normal(0, 0.03, len(xs))
        bottom = rng.uniform(2.3, 3.2)
        ys_bot = bottom + rng.normal(0, 0.1, len(xs))
        pts = np.concatenate([np.stack([xs, ys_top], 1), np.stack([xs[::-1], ys_bot[::-1]], 1)])
        ang = np.radians(rng.uniform(-10, 10))
        pts = pts @ np.array([[np.cos(ang), np.sin(ang)], [-np.sin(ang), np.cos(ang)]])
        return fill_polygon(h, w, frame.to_image(smooth_closed(pts, 4))), "scarf"
    width = split_uniform(rng, 0.15, 0.6, split, (0.35, 0.4))
    if kind == "headband":
        y = rng.uniform(-0.6, -0.2)
        ang = rng.uniform(-12, 12)
        centre = np.array([0.0, y])
    else:
        centre = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.5, 1.4)])
        ang = rng.uniform(-90, 90)
    a = np.radians(ang)
    d = np.array([np.cos(a), np.sin(a)])
    n = np.array([-d[1], d[0]])
    L = 3.0
    pts = np.array([centre - L * d - width / 2 * n, centre + L * d - width / 2 * n,
                    centre + L * d + width / 2 * n, centre - L * d + width / 2 * n])
    return fill_polygon(h, w, frame.to_image(pts)), kind


def draw_cloth_mask(h: int, w: int, landmarks: np.ndarray, frame: FaceFrame,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """A procedural cloth/surgical face mask fitted to the MaskTheFace anchor points.

    Returns (alpha, shading (H, W) around 1 for pleats, name). Used when the bank has no
    templates, and sometimes otherwise for extra shape variety.
    """
    a, b, c, d, e, f = frame.to_face(mask_anchor_points(landmarks))
    j = lambda p, s=0.04: p + rng.normal(0, s, 2)  # noqa: E731
    spread = rng.uniform(0.05, 0.2)
    b = b + [0, -rng.uniform(0.0, 0.15)]
    top_l = j(a + [-spread, -0.15])
    top_r = j(c + [spread, -0.15])
    bot = e + [0, rng.uniform(0.05, 0.25)]
    pts = np.array([top_l, (top_l + b) / 2 + [0, -0.08], b, (b + top_r) / 2 + [0, -0.08], top_r,
                    j(f + [spread, 0.05]), (f + bot) / 2 + [0.05, 0.12], bot, (d + bot) / 2 + [-0.05, 0.12],
                    j(d + [-spread, 0.05])])
    alpha = fill_polygon(h, w, frame.to_image(smooth_closed(pts, 6)))
    # horizontal pleats as shading
    shade = np.ones((h, w), np.float32)
    if rng.random() < 0.6:
        for k in range(3):
            y = b[1] + (e[1] - b[1]) * (0.3 + 0.2 * k)
            line = frame.to_image(np.array([[a[0], y], [0.0, y + 0.03], [c[0], y]]))
            shade -= 0.25 * polyline(h, w, line, max(1.0, 0.04 * frame.iod))
    # ear loops
    for p, q in ((top_l, d), (top_r, f)):
        side = np.sign(p[0])
        loop = frame.to_image(bezier(p, np.array([p[0] + side * 0.5, (p[1] + q[1]) / 2]), q, 12))
        alpha = np.maximum(alpha, polyline(h, w, loop, max(0.7, 0.03 * frame.iod)))
    return alpha, shade, "cloth_mask_procedural"

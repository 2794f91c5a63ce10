"""Hair occluders: procedural strands / bangs / side locks, and real hair from other faces.

Real hair is the most common natural occluder in the training photos and the hardest to
fake, so half of the hair samples are cut out of *another* UTKFace face with its hair
mask and warped onto the target by a similarity fitted on the two faces' landmarks (the
donor's hair lands where hair grows on the target: forehead, temples, sides). Procedural
hair adds fine, soft-alpha strands that the 200 px hair masks cannot provide.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from deocclude.faces.align import estimate_similarity
from deocclude.synth.draw import fill_polygon, polyline_into
from deocclude.synth.geometry import CHIN, NOSE_TIP, FaceFrame, eye_centres
from deocclude.synth.params import pick, split_uniform

HAIR_COLOURS = {  # base RGB of natural hair colours
    "black": (0.05, 0.04, 0.04), "dark_brown": (0.18, 0.11, 0.07), "brown": (0.36, 0.24, 0.14),
    "auburn": (0.48, 0.2, 0.1), "blonde": (0.78, 0.64, 0.4), "grey": (0.62, 0.6, 0.58),
}


def hair_colour(rng: np.random.Generator) -> np.ndarray:
    base = np.asarray(pick(rng, tuple(HAIR_COLOURS.values()), (0.35, 0.25, 0.15, 0.07, 0.1, 0.08)))
    return np.clip(base * rng.uniform(0.75, 1.25) + rng.normal(0, 0.02, 3), 0, 1).astype(np.float32)


def _strand_points(frame: FaceFrame, rng: np.random.Generator, top: np.ndarray, end: np.ndarray,
                   curl: float) -> np.ndarray:
    """A wavy strand (cubic through two jittered control points), image px (24, 2)."""
    d = end - top
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6)
    c1 = top + d / 3 + n * curl * rng.normal()
    c2 = top + 2 * d / 3 + n * curl * rng.normal()
    t = np.linspace(0, 1, 24)[:, None]
    pts = (1 - t) ** 3 * top + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t ** 2 * c2 + t ** 3 * end
    return frame.to_image(pts)


def draw_procedural_hair(h: int, w: int, frame: FaceFrame, rng: np.random.Generator,
                         split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(colour, alpha, kind): a fringe (bangs), a side lock, or loose strands from the top.

    Bangs and locks are a solid core (drawn as a filled outline) finished by individual
    strands at the edge, so the alpha is soft and ragged where real hair ends.
    """
    kind = pick(rng, ("bangs", "side", "strands"), (0.45, 0.35, 0.2))
    base = hair_colour(rng)
    alpha = np.zeros((h, w), np.float32)
    curl = split_uniform(rng, 0.0, 0.12, split, (0.055, 0.07))
    strands: list[tuple[np.ndarray, np.ndarray]] = []
    if kind == "bangs":
        x0, x1 = -rng.uniform(0.9, 1.5), rng.uniform(0.9, 1.5)
        depth = rng.uniform(-0.4, 0.45)  # where the fringe ends (brows ~ -0.25, eyes 0)
        tilt = rng.uniform(-0.45, 0.45)
        xs = np.linspace(x0, x1, 10)
        edge = depth + tilt * xs / 1.5 + rng.normal(0, 0.05, len(xs))
        core = edge - rng.uniform(0.15, 0.35)
        poly = np.concatenate([np.stack([xs, core], 1), [[x1 + 0.3, -2.5], [x0 - 0.3, -2.5]]])
        alpha = fill_polygon(h, w, frame.to_image(poly))
        for x in rng.uniform(x0, x1, int(70 + 80 * rng.random())):
            e = float(np.interp(x, xs, edge))
            strands.append((np.array([x, e - 0.7]), np.array([x + rng.normal(0, 0.06), e + rng.uniform(-0.12, 0.08)])))
    elif kind == "side":
        side = 1.0 if rng.random() < 0.5 else -1.0
        inner = rng.uniform(0.15, 0.95)  # how far towards the face centre the lock reaches
        bottom = rng.uniform(0.6, 2.3)
        ys = np.linspace(-1.6, bottom, 10)
        t = (ys - ys[0]) / (bottom - ys[0])
        x_in = inner + (1.0 - inner) * (1 - np.sin(np.pi * np.clip(t * 0.9, 0, 1))) * 0.6 + rng.normal(0, 0.03, 10)
        x_in[-1] = (x_in[-2] + 1.6) / 2  # taper to a tip
        poly = np.concatenate([np.stack([side * x_in, ys], 1), [[side * 2.5, bottom], [side * 2.5, -1.6]]])
        alpha = fill_polygon(h, w, frame.to_image(poly))
        for y_end in rng.uniform(bottom - 0.6, bottom + 0.1, int(40 + 50 * rng.random())):
            xi = float(np.interp(y_end, ys, x_in))
            x_end = side * (xi + rng.uniform(-0.06, 0.3))
            strands.append((np.array([side * (xi + 0.3), -1.2]), np.array([x_end, y_end])))
    else:  # loose wisps: bundles of strands that share a path and fan out at the ends
        for _ in range(int(2 + 6 * rng.random())):
            x = rng.uniform(-1.2, 1.2)
            top, end = np.array([x, -1.4]), np.array([x + rng.normal(0, 0.3), rng.uniform(-0.3, 1.6)])
            spread = rng.uniform(0.03, 0.12)
            for _ in range(int(5 + 10 * rng.random())):
                strands.append((top + [rng.normal(0, spread), 0], end + rng.normal(0, spread * 1.5, 2)))
    width = (0.008, 0.025) if kind == "strands" else (0.012, 0.035)
    strand_a = np.zeros((h, w), np.uint8)
    tone = np.full((h, w), 100, np.uint8)  # 100 = base colour; strands lighter or darker
    for top, end in strands:
        pts = _strand_points(frame, rng, top, end, curl + 0.03)
        th = rng.uniform(*width) * frame.iod
        polyline_into(strand_a, pts, th, rng.uniform(0.5, 1.0))
        polyline_into(tone, pts, max(th, 1.0), rng.uniform(0.7, 1.35) * 100 / 255)
    alpha = np.maximum(alpha, strand_a.astype(np.float32) / 255.0)
    shade = tone.astype(np.float32) / 100.0
    streak = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigmaX=0.4, sigmaY=1.5)
    shade = shade * (0.85 + 0.3 * (streak - streak.mean()) / max(float(streak.std()), 1e-6) * 0.3)
    colour = np.clip(base[None, None, :] * shade[..., None], 0, 1).astype(np.float32)
    return colour, alpha, f"hair_{kind}"


def _key_points(landmarks: np.ndarray) -> np.ndarray:
    le, re = eye_centres(landmarks)
    pts = np.asarray(landmarks, np.float64)[:, :2]
    return np.stack([le, re, pts[NOSE_TIP], pts[CHIN]])


class HairBank:
    """Real hair cut out of UTKFace faces (image + hair mask) of one split.

    Donors are faces whose hair covers part of the face mesh (visible_ratio 0.70-0.95: per
    the data README that range is mostly real bangs and side hair, below it mostly label
    errors), so the warped hair lands on the target's face and not only on its background.
    ``train`` uses train faces, ``test`` uses val faces: test-time hair never comes from a
    face a model was trained on, nor from a test face itself.
    """

    def __init__(self, utk_root: str | Path, split: str) -> None:
        self.root = Path(utk_root)
        donor_split = "train" if split == "train" else "val"
        with open(self.root / "index.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["split"] == donor_split]
        lm = np.load(self.root / "landmarks.npz")
        pos = {n: i for i, n in enumerate(lm["names"].tolist())}
        self.names = [r["file"] for r in rows if r["file"] in pos and 0.7 <= float(r["visible_ratio"]) <= 0.95]
        self.points = lm["points"][[pos[n] for n in self.names]].astype(np.float32)

    def __len__(self) -> int:
        return len(self.names)

    def draw(
        self, h: int, w: int, landmarks: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, str] | None:
        """(colour, alpha, name) of a donor's hair warped onto the target, or None."""
        if not self.names:
            return None
        for _ in range(4):  # a few donors may have no hair at all
            i = int(rng.integers(len(self.names)))
            name = self.names[i]
            stem = name[:-4] if name.endswith(".jpg") else name
            img = cv2.imread(str(self.root / "images" / name), cv2.IMREAD_COLOR)
            mask = cv2.imread(str(self.root / "hair_masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
            if img is None or mask is None or (mask > 127).mean() < 0.03:
                continue
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
            m = mask.astype(np.float32) / 255.0
            src = _key_points(self.points[i])
            if rng.random() < 0.5:  # mirror the donor; swap its eyes so the fit stays upright
                img, m = img[:, ::-1].copy(), m[:, ::-1].copy()
                src = np.stack([src[1], src[0], src[2], src[3]])
                src[:, 0] = img.shape[1] - src[:, 0]
            dst = _key_points(landmarks)
            mat = estimate_similarity(src, dst)
            t = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
            mat = (np.linalg.inv(t) @ np.vstack([mat, [0, 0, 1]]) @ t)[:2]
            # erode a little: the mask's edge pixels carry the donor's background/skin
            m = np.asarray(cv2.erode(m, np.ones((3, 3), np.uint8)), np.float32)
            colour = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            alpha = cv2.warpAffine(
                m, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
            )
            return colour, np.clip(alpha, 0, 1), f"hair_real:{stem}"
        return None

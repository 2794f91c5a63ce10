"""RGBA sprites and how they are warped onto the face canvas.

Every occluder source produces a :class:`Sprite` (straight colour + alpha in its own pixel
frame) and a transform into the target image. Warping uses *premultiplied* colour so the
bilinear filter never mixes the transparent (often black) background into the object's
edge, which would leave dark fringes around every pasted object.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Sprite:
    """An occluder in its own frame: colour (h, w, 3) and alpha (h, w), float32 in [0, 1]."""

    colour: np.ndarray
    alpha: np.ndarray
    name: str = ""

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.alpha.shape[0], self.alpha.shape[1]

    def bbox(self, threshold: float = 0.05) -> tuple[float, float, float, float]:
        """Tight box of the visible object: (x0, y0, x1, y1) in sprite px."""
        ys, xs = np.nonzero(self.alpha > threshold)
        if len(xs) == 0:
            h, w = self.size
            return 0.0, 0.0, float(w), float(h)
        return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def from_rgba(rgba: np.ndarray, name: str = "") -> Sprite:
    """A sprite from a uint8 (h, w, 4) RGBA array."""
    f = rgba.astype(np.float32) / 255.0
    return Sprite(colour=np.ascontiguousarray(f[..., :3]), alpha=np.ascontiguousarray(f[..., 3]), name=name)


def _prescale(sprite: Sprite, matrix: np.ndarray) -> tuple[Sprite, np.ndarray]:
    """Area-downscale a sprite that will be shrunk a lot, so the warp does not alias."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    if scale >= 0.6:
        return sprite, matrix
    h, w = sprite.size
    f = max(scale * 1.25, 1.0 / max(h, w))
    nw, nh = max(2, int(round(w * f))), max(2, int(round(h * f)))
    premul = np.dstack([sprite.colour * sprite.alpha[..., None], sprite.alpha])
    small = cv2.resize(premul, (nw, nh), interpolation=cv2.INTER_AREA)
    a = small[..., 3]
    col = np.where(a[..., None] > 1e-6, small[..., :3] / np.maximum(a[..., None], 1e-6), 0.0)
    fix = np.diag([w / nw, h / nh, 1.0])
    m3 = np.vstack([matrix, [0.0, 0.0, 1.0]]) if matrix.shape[0] == 2 else matrix
    out = (m3 @ fix)[: matrix.shape[0]]
    return Sprite(np.clip(col, 0, 1).astype(np.float32), a.astype(np.float32), sprite.name), out


def warp_sprite(sprite: Sprite, matrix: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Warp a sprite into an (height, width) canvas.

    ``matrix`` maps sprite px to canvas px: (2, 3) affine or (3, 3) homography (pixel
    centres at +0.5 in both). Returns (colour (H, W, 3), alpha (H, W)), float32.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    sprite, matrix = _prescale(sprite, matrix)
    # pixel-centre convention: cv2 maps integer coordinates, so shift by 0.5 on both sides
    t_in = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], dtype=np.float64)
    t_out = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], dtype=np.float64)
    m3 = np.vstack([matrix, [0.0, 0.0, 1.0]]) if matrix.shape[0] == 2 else matrix
    m3 = t_out @ m3 @ t_in
    premul = np.dstack([sprite.colour * sprite.alpha[..., None], sprite.alpha]).astype(np.float32)
    flags = cv2.INTER_LINEAR
    if matrix.shape[0] == 2:
        out = cv2.warpAffine(
            premul, m3[:2], (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    else:
        out = cv2.warpPerspective(
            premul, m3, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    alpha = np.clip(out[..., 3], 0.0, 1.0)
    colour = np.where(alpha[..., None] > 1e-6, out[..., :3] / np.maximum(alpha[..., None], 1e-6), 0.0)
    return np.clip(colour, 0.0, 1.0).astype(np.float32), alpha.astype(np.float32)


def similarity(src_pt: np.ndarray, dst_pt: np.ndarray, scale: float, angle_deg: float,
               shear: float = 0.0, flip: bool = False, aspect: float = 1.0) -> np.ndarray:
    """(2, 3) matrix taking ``src_pt`` to ``dst_pt`` with scale, rotation, shear and flip.

    ``aspect`` stretches y relative to x (before rotation), ``shear`` is x += shear * y.
    """
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lin = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([(-1.0 if flip else 1.0) * scale, scale * aspect])
    t = np.asarray(dst_pt, dtype=np.float64) - lin @ np.asarray(src_pt, dtype=np.float64)
    return np.hstack([lin, t[:, None]])


def two_point_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) similarity mapping the two points ``src`` (2, 2) exactly onto ``dst`` (2, 2)."""
    s = np.asarray(src, dtype=np.float64)
    d = np.asarray(dst, dtype=np.float64)
    vs, vd = s[1] - s[0], d[1] - d[0]
    zs, zd = complex(*vs), complex(*vd)
    r = zd / zs
    lin = np.array([[r.real, -r.imag], [r.imag, r.real]])
    t = d[0] - lin @ s[0]
    return np.hstack([lin, t[:, None]])


def jitter_colour(colour: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Brightness / contrast / saturation / per-channel gain jitter (strength 0 = none)."""
    if strength <= 0:
        return colour
    b = 1.0 + strength * rng.uniform(-0.4, 0.4)
    c = 1.0 + strength * rng.uniform(-0.4, 0.4)
    s = 1.0 + strength * rng.uniform(-0.6, 0.4)
    gains = 1.0 + strength * rng.uniform(-0.12, 0.12, size=3)
    grey = colour.mean(axis=-1, keepdims=True)
    out = grey + s * (colour - grey)
    mean = float(out.mean())
    out = (out - mean) * c + mean
    out = out * b * gains.astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def blur_alpha(alpha: np.ndarray, sigma: float) -> np.ndarray:
    """Soften the alpha edge (sigma in px; <= 0.05 returns the input)."""
    if sigma <= 0.05:
        return alpha
    k = int(2 * np.ceil(3 * sigma) + 1)
    return cv2.GaussianBlur(alpha, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)

"""Textures for re-colouring occluders: image banks and procedural patterns.

Re-texturing multiplies the variety of a small occluder bank (the paper's FaceOcc code
re-textures face masks 90% of the time and other objects 10%). The object's own shading
(folds, highlights) is kept by modulating the texture with the object's relative
luminance, so a re-textured mask still looks like cloth and not like a flat sticker.
"""

from __future__ import annotations

import csv
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np

PROCEDURAL_KINDS = ("noise", "stripes", "checks", "plaid", "gradient", "dots")
_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def is_held_out(name: str, fraction: float = 0.2) -> bool:
    """A fixed, machine-independent test split by name (CRC32), for banks without one."""
    return (zlib.crc32(name.encode("utf-8")) % 1000) < fraction * 1000


def random_colour(rng: np.random.Generator, hue_range: tuple[float, float] = (0.0, 1.0),
                  sat: tuple[float, float] = (0.2, 1.0), val: tuple[float, float] = (0.15, 1.0)) -> np.ndarray:
    """An RGB colour (3,) float32 drawn in HSV; hue in [0, 1)."""
    h = rng.uniform(*hue_range) % 1.0
    s, v = rng.uniform(*sat), rng.uniform(*val)
    hsv = np.array([[[h * 180.0, s * 255.0, v * 255.0]]], dtype=np.float32)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)[0, 0] / 255.0
    return rgb


def _noise(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Multi-octave value noise in [0, 1], (h, w)."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    cells = int(rng.integers(2, 6))
    for _ in range(4):
        g = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
        cells *= 2
    out /= total
    return np.clip((out - out.min()) / max(float(np.ptp(out)), 1e-6), 0, 1)


def _coords(h: int, w: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    return xx * c + yy * s, -xx * s + yy * c


def procedural_texture(h: int, w: int, rng: np.random.Generator, kind: str | None = None,
                       hue_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """A procedural RGB texture (h, w, 3) float32 in [0, 1]."""
    kind = kind or PROCEDURAL_KINDS[int(rng.integers(len(PROCEDURAL_KINDS)))]
    c1, c2, c3 = (random_colour(rng, hue_range) for _ in range(3))
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 24)
    if kind == "noise":
        t = _noise(h, w, rng)[..., None]
        return (c1 * (1 - t) + c2 * t).astype(np.float32)
    u, v = _coords(h, w, angle)
    if kind == "stripes":
        duty = rng.uniform(0.3, 0.7)
        t = ((u / period) % 1.0 < duty).astype(np.float32)[..., None]
        return (c1 * (1 - t) + c2 * t).astype(np.float32)
    if kind == "checks":
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)[..., None]
        return (c1 * (1 - t) + c2 * t).astype(np.float32)
    if kind == "plaid":
        a = (np.sin(2 * np.pi * u / period) > 0.3).astype(np.float32)
        b = (np.sin(2 * np.pi * v / (period * rng.uniform(0.7, 1.4))) > 0.3).astype(np.float32)
        thin = (np.abs(np.sin(np.pi * u / period * 3)) < 0.15).astype(np.float32)
        out = c1 * (1 - 0.5 * a[..., None] - 0.5 * b[..., None]) + c2 * 0.5 * (a + b)[..., None]
        out = out * (1 - 0.6 * thin[..., None]) + c3 * 0.6 * thin[..., None]
        return np.clip(out, 0, 1).astype(np.float32)
    if kind == "gradient":
        t = (u - u.min()) / max(float(np.ptp(u)), 1e-6)
        return (c1 * (1 - t[..., None]) + c2 * t[..., None]).astype(np.float32)
    if kind == "dots":
        r = period * rng.uniform(0.15, 0.4)
        du = (u % period) - period / 2
        dv = (v % period) - period / 2
        t = (du * du + dv * dv < r * r).astype(np.float32)[..., None]
        return (c1 * (1 - t) + c2 * t).astype(np.float32)
    raise ValueError(f"unknown procedural texture {kind!r}")


class TextureBank:
    """Image textures from a folder (``index.csv`` with a ``file`` column, or a scan).

    Files are read lazily (a texture is needed for a minority of samples) so worker
    processes stay small. The split is fixed by name hash (:func:`is_held_out`), since the
    texture index has no split column.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index = self.root / "index.csv"
        if index.is_file():
            with open(index, newline="") as fh:
                files = sorted(r["file"] for r in csv.DictReader(fh) if r.get("file"))
        else:
            files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                           if p.suffix.lower() in _IMAGE_EXT)
        self.files = {"train": [f for f in files if not is_held_out(f)],
                      "test": [f for f in files if is_held_out(f)]}

    def __len__(self) -> int:
        return len(self.files["train"]) + len(self.files["test"])

    def sample(self, h: int, w: int, rng: np.random.Generator, split: str) -> np.ndarray | None:
        """A random (h, w, 3) patch of a random texture, or None when unreadable/empty."""
        files = self.files.get(split) or []
        if not files:
            return None
        rel = files[int(rng.integers(len(files)))]
        img = cv2.imread(str(self.root / rel), cv2.IMREAD_COLOR)
        if img is None:
            warnings.warn(f"skipping unreadable texture {self.root / rel}", RuntimeWarning, stacklevel=2)
            return None
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        # random zoom so the pattern scale varies, then a random crop
        zoom = rng.uniform(0.35, 1.0) * max(h / img.shape[0], w / img.shape[1], 0.25)
        zoom = max(zoom, h / img.shape[0], w / img.shape[1])
        img = cv2.resize(img, (max(w, round(img.shape[1] * zoom)), max(h, round(img.shape[0] * zoom))),
                         interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR)
        y = int(rng.integers(img.shape[0] - h + 1))
        x = int(rng.integers(img.shape[1] - w + 1))
        return np.ascontiguousarray(img[y:y + h, x:x + w])


def retexture(colour: np.ndarray, alpha: np.ndarray, texture: np.ndarray, keep_shading: float = 0.7) -> np.ndarray:
    """Replace an object's colour by ``texture`` but keep its relative shading."""
    lum = colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    w = alpha > 0.2
    mean = float(lum[w].mean()) if w.any() else float(lum.mean())
    shade = np.clip(lum / max(mean, 1e-3), 0.3, 1.6)
    out = texture * ((1 - keep_shading) + keep_shading * shade)[..., None]
    return np.clip(out, 0, 1).astype(np.float32)

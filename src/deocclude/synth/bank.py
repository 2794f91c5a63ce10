"""The occluder bank: any folder of RGBA PNGs, with an optional ``index.csv``.

``index.csv`` (columns ``file, category, split``; others ignored) gives each file its
category and train/test split. Without it every PNG under the folder is used, its category
taken from the name of its parent folder when that is a known category (else ``object``)
and its split ``train``. Files that cannot be read, or have no alpha channel, are skipped
with a warning: one broken file must not stop training. A MaskTheFace ``masks.cfg`` next
to the templates supplies the six anchor points used to fit face masks by homography.
"""

from __future__ import annotations

import configparser
import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deocclude.synth.sprite import Sprite

BANK_CATEGORIES = ("mask", "eyewear", "hand", "cup", "microphone", "phone", "hat",
                   "scarf_cloth", "food", "object", "hair")


@dataclass(frozen=True)
class BankItem:
    """One occluder: premultiplied RGBA pixels (cropped to the object), category, split,
    optional MaskTheFace anchors.

    Pixels are kept as uint8 with *premultiplied* colour: a quarter of float32 (the bank is
    copied into every DataLoader worker), and an area-downscale of premultiplied pixels is
    exact at soft edges, so most objects are shrunk to their pasted size before any float
    work (:meth:`sprite_for_scale`), which is what keeps synthesis at a few ms per sample.
    """

    rgba: np.ndarray  # (h, w, 4) uint8, colour premultiplied by alpha
    category: str
    split: str
    name: str
    anchors: np.ndarray | None = None  # (6, 2) MaskTheFace points a..f in sprite px

    @property
    def size(self) -> tuple[int, int]:
        return self.rgba.shape[0], self.rgba.shape[1]

    def bbox(self) -> tuple[float, float, float, float]:
        """Tight box of the object (alpha > 5%): (x0, y0, x1, y1) in sprite px."""
        ys, xs = np.nonzero(self.rgba[..., 3] > 12)
        if len(xs) == 0:
            return 0.0, 0.0, float(self.size[1]), float(self.size[0])
        return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)

    @property
    def sprite(self) -> Sprite:
        """The full-resolution sprite (straight colour)."""
        return _unpremultiply(self.rgba, self.name)

    def sprite_for_scale(self, scale: float) -> tuple[Sprite, float]:
        """The sprite area-downscaled for a warp of ``scale`` (< 0.6 only), and the factor used.

        Returns (sprite, f): sprite px = f * full-resolution px.
        """
        if scale >= 0.6:
            return self.sprite, 1.0
        h, w = self.size
        f = max(scale * 1.25, 2.0 / max(h, w))
        nw, nh = max(2, int(round(w * f))), max(2, int(round(h * f)))
        small = cv2.resize(self.rgba, (nw, nh), interpolation=cv2.INTER_AREA)
        return _unpremultiply(small, self.name), nw / w


def _unpremultiply(rgba: np.ndarray, name: str) -> Sprite:
    f = rgba.astype(np.float32) * (1.0 / 255.0)
    a = f[..., 3]
    colour = f[..., :3] / np.maximum(a[..., None], 1e-6)
    colour[a <= 0] = 0.0
    return Sprite(colour=np.clip(colour, 0.0, 1.0), alpha=np.ascontiguousarray(a), name=name)


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """uint8 straight RGBA -> uint8 premultiplied RGBA."""
    a = rgba[..., 3:4].astype(np.uint16)
    out = rgba.copy()
    out[..., :3] = ((rgba[..., :3].astype(np.uint16) * a + 127) // 255).astype(np.uint8)
    return out


def _read_rgba(path: Path, max_side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Read an RGBA PNG, crop it to its alpha box and cap its long side.

    Returns (rgba uint8, scale applied, (x0, y0) crop offset in original px).
    """
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ValueError("not a readable image")
    if img.ndim != 3 or img.shape[2] != 4:
        raise ValueError("no alpha channel (an occluder must be an RGBA PNG)")
    if img.dtype == np.uint16:
        img = (img / 257).astype(np.uint8)
    rgba = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    ys, xs = np.nonzero(rgba[..., 3] > 8)
    if len(xs) == 0:
        raise ValueError("fully transparent")
    pad = 2
    x0, y0 = max(int(xs.min()) - pad, 0), max(int(ys.min()) - pad, 0)
    x1, y1 = min(int(xs.max()) + 1 + pad, rgba.shape[1]), min(int(ys.max()) + 1 + pad, rgba.shape[0])
    rgba = rgba[y0:y1, x0:x1]
    scale = min(1.0, max_side / max(rgba.shape[:2]))
    if scale < 1.0:
        rgba = cv2.resize(rgba, (max(1, round(rgba.shape[1] * scale)), max(1, round(rgba.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgba), scale, (x0, y0)


def read_mask_anchors(cfg_path: Path) -> dict[str, np.ndarray]:
    """``masks.cfg`` (MaskTheFace format) -> {template file name: (6, 2) anchors a..f}."""
    parser = configparser.ConfigParser(delimiters=(":", "="))
    parser.read(cfg_path)
    out: dict[str, np.ndarray] = {}
    for section in parser.sections():
        sec = parser[section]
        if "template" not in sec:
            continue
        try:
            pts = [[float(v) for v in sec[f"mask_{k}"].split(",")] for k in "abcdef"]
        except (KeyError, ValueError):
            continue
        out[sec["template"].strip()] = np.asarray(pts, dtype=np.float64)
    return out


class OccluderBank:
    """All usable occluders of a folder, decoded once (uint8-sized memory, cropped)."""

    def __init__(self, root: str | Path, max_side: int = 256) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"occluder folder not found: {self.root}")
        self.items: list[BankItem] = []
        anchors: dict[str, np.ndarray] = {}
        for cfg in sorted(self.root.rglob("masks.cfg")):
            cfg_dir = cfg.parent.relative_to(self.root)
            for k, v in read_mask_anchors(cfg).items():
                anchors[(cfg_dir / k).as_posix()] = v
        for rel, category, split in self._entries():
            path = self.root / rel
            try:
                rgba, scale, (x0, y0) = _read_rgba(path, max_side)
            except (OSError, ValueError, cv2.error) as exc:
                warnings.warn(f"skipping occluder {path}: {exc}", RuntimeWarning, stacklevel=2)
                continue
            anc = anchors.get(rel)
            if anc is not None:
                anc = (anc - np.array([x0, y0])) * scale
            self.items.append(BankItem(premultiply(rgba), category, split, Path(rel).stem, anc))
        self._by_key: dict[tuple[str, str], list[int]] = {}
        for i, it in enumerate(self.items):
            self._by_key.setdefault((it.category, it.split), []).append(i)

    def _entries(self) -> list[tuple[str, str, str]]:
        """(relative path, category, split) of every listed or found PNG, sorted."""
        index = self.root / "index.csv"
        if index.is_file():
            with open(index, newline="") as fh:
                rows = list(csv.DictReader(fh))
            if rows and "file" in rows[0]:
                return sorted((r["file"], (r.get("category") or "object").strip(),
                               (r.get("split") or "train").strip()) for r in rows)
            warnings.warn(f"{index} has no 'file' column; scanning the folder instead", RuntimeWarning, stacklevel=3)
        out = []
        for p in sorted(self.root.rglob("*.png")):
            cat = p.parent.name if p.parent.name in BANK_CATEGORIES else "object"
            out.append((p.relative_to(self.root).as_posix(), cat, "train"))
        return out

    def __len__(self) -> int:
        return len(self.items)

    def categories(self) -> list[str]:
        return sorted({it.category for it in self.items})

    def choices(self, category: str, split: str) -> list[int]:
        """Indices of the items of a category for a split.

        ``test`` falls back to every item of the category when none is marked test (a
        user's folder without splits), so a protocol can still run.
        """
        idx = self._by_key.get((category, split), [])
        if not idx and split == "test":
            idx = [i for k, v in self._by_key.items() if k[0] == category for i in v]
        return sorted(idx)

    def sample(self, category: str, split: str, rng: np.random.Generator,
               require_anchors: bool = False) -> BankItem | None:
        idx = self.choices(category, split)
        if require_anchors:
            idx = [i for i in idx if self.items[i].anchors is not None]
        if not idx:
            return None
        return self.items[idx[int(rng.integers(len(idx)))]]

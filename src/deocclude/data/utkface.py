"""The UTKFace faces of the shared data, aligned to the canonical template, as a Dataset.

Each item is one face at N x N (see :class:`UTKFaceFaces`). Masks follow the data
README's definitions, carried into the aligned frame:

- ``mesh_mask``: re-rasterised from the warped landmarks at N (exact, binary), not warped,
  so it is as sharp at N = 128 as at 200 and matches what the pipeline computes at run time;
- ``hair_mask``: the 200 px hair mask warped with the image's matrix (bilinear, after the
  same area pre-filter as the image) and kept **soft** in [0, 1]: at N = 128 a pixel covers
  ~2.4 source pixels, and the soft value is its hair fraction. Threshold at 0.5 if a
  binary mask is needed;
- ``face_mask`` (visible face M_F) = mesh * (1 - hair) * valid, exactly the README's
  "mesh AND NOT hair", so M_F <= mesh everywhere. Outside the original photo (``valid`` = 0,
  reflected fill) nothing is known and M_F = 0 there: weight pixel losses by ``valid``.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from deocclude.data.cache import ArraySpec, MemmapCached, load_or_build
from deocclude.errors import DeoccludeError
from deocclude.faces.align import align_face
from deocclude.faces.mesh import mesh_mask
from deocclude.paths import cache_root, utkface_root

SPLITS = ("train", "val", "test")
CACHE_VERSION = 1


def read_index(root: Path) -> list[dict[str, str]]:
    """Rows of ``index.csv`` (file, age, gender, race, split, visible_ratio)."""
    path = root / "index.csv"
    if not path.is_file():
        raise DeoccludeError(f"UTKFace index not found: {path} (set DEOCCLUDE_DATA to the shared data folder)")
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def align_sample(image: np.ndarray, hair: np.ndarray | None, landmarks: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Align one face and its hair mask; the uint8 arrays stored in the cache.

    The hair mask is aligned through :func:`align_face` itself (as a grey image) so it gets
    exactly the image's pre-filter and warp; its reflected fill is then zeroed by ``valid``.
    """
    aligned = align_face(image, landmarks, size)
    out = {
        "image": aligned.crop,
        "valid": np.round(aligned.valid * 255).astype(np.uint8),
        "mesh": (mesh_mask(aligned.landmarks, size, size) * 255).astype(np.uint8),
        "landmarks": aligned.landmarks.astype(np.float32),
    }
    if hair is not None:
        h3 = align_face(np.repeat(hair[..., None], 3, axis=2), landmarks, size).crop[..., 0].astype(np.float32)
        out["hair"] = np.round(h3 * aligned.valid).astype(np.uint8)
    else:
        out["hair"] = np.zeros((size, size), np.uint8)
    return out


def to_item(arrays: dict[str, np.ndarray], i: int) -> dict[str, torch.Tensor]:
    """Tensors of one cached face (image float [0, 1], masks (1, N, N), landmarks).

    ``face_mask`` = the stored ``face`` array when there is one (user folders with masks),
    else mesh * (1 - hair) * valid.
    """
    img = torch.from_numpy(np.asarray(arrays["image"][i], dtype=np.float32) / 255.0).permute(2, 0, 1)
    valid = torch.from_numpy(np.asarray(arrays["valid"][i], dtype=np.float32) / 255.0)[None]
    mesh = torch.from_numpy(np.asarray(arrays["mesh"][i], dtype=np.float32) / 255.0)[None]
    hair = torch.from_numpy(np.asarray(arrays["hair"][i], dtype=np.float32) / 255.0)[None]
    if "face" in arrays:  # a stored visible-face mask (user folders), else the README's rule
        face = torch.from_numpy(np.asarray(arrays["face"][i], dtype=np.float32) / 255.0)[None] * valid
    else:
        face = mesh * (1.0 - hair) * valid
    return {
        "image": img.contiguous(),
        "face_mask": face,
        "mesh_mask": mesh,
        "hair_mask": hair,
        "valid": valid,
        "landmarks": torch.from_numpy(np.array(arrays["landmarks"][i], dtype=np.float32)),
    }


class UTKFaceFaces(MemmapCached, Dataset):
    """Aligned UTKFace faces of one split, with masks and landmarks (cached on first use).

    Item: ``image`` (3, N, N) float in [0, 1]; ``face_mask``, ``mesh_mask``, ``hair_mask``,
    ``valid`` (1, N, N) float in [0, 1]; ``landmarks`` (468, 3) crop px; ``name`` str;
    ``index`` int (position in this dataset). ``split=None`` = all faces;
    ``min_visible_ratio`` drops faces whose labelled visible ratio is lower (the README
    suggests ~0.7 for train: below it the hair labels are mostly wrong). ``limit`` keeps only
    the first faces of the split (quick experiments, tests; cached separately).
    """

    _array_keys = ("image", "valid", "mesh", "hair", "landmarks")

    def __init__(self, root: str | Path | None = None, split: str | None = "train", size: int = 128,
                 cache_dir: str | Path | None = None, min_visible_ratio: float | None = None,
                 limit: int | None = None) -> None:
        self.root = Path(root) if root is not None else utkface_root()
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, not {split!r}")
        if not (self.root / "landmarks.npz").is_file():
            raise DeoccludeError(
                f"UTKFace data not found under {self.root} (set DEOCCLUDE_DATA to the shared data folder)"
            )
        self.split, self.size = split, int(size)
        rows = [r for r in read_index(self.root) if split is None or r["split"] == split]
        lm = np.load(self.root / "landmarks.npz")
        pos = {n: i for i, n in enumerate(lm["names"].tolist())}
        rows = [r for r in rows if r["file"] in pos][:limit]
        names = [r["file"] for r in rows]
        digest = hashlib.sha1(("\n".join(names) + str(self.root.resolve())).encode()).hexdigest()[:10]
        meta = {
            "version": CACHE_VERSION,
            "size": self.size,
            "split": split or "all",
            "count": len(names),
            "digest": digest,
        }
        entry = Path(cache_dir or cache_root()) / f"utkface_{split or 'all'}_{self.size}_{digest}"
        points = lm["points"]

        def build():
            for name in names:
                img = cv2.imread(str(self.root / "images" / name), cv2.IMREAD_COLOR)
                if img is None:
                    raise DeoccludeError(f"unreadable UTKFace image {self.root / 'images' / name}")
                stem = name[:-4] if name.endswith(".jpg") else name
                hair = cv2.imread(str(self.root / "hair_masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
                yield align_sample(
                    cv2.cvtColor(img, cv2.COLOR_BGR2RGB), hair, np.asarray(points[pos[name]], np.float32), self.size
                )

        n = self.size
        specs: ArraySpec = {"image": ((n, n, 3), np.uint8), "valid": ((n, n), np.uint8), "mesh": ((n, n), np.uint8),
                 "hair": ((n, n), np.uint8), "landmarks": ((468, 3), np.float32)}
        self.arrays = load_or_build(entry, specs, len(names), build, meta,
                                    f"aligning UTKFace {split or 'all'} at {n}px")
        self._entry = entry
        ratios = np.array([float(r["visible_ratio"]) for r in rows])
        keep = np.arange(len(names)) if min_visible_ratio is None else np.nonzero(ratios >= min_visible_ratio)[0]
        self._rows = keep
        self.names = [names[i] for i in keep]
        self.visible_ratio = ratios[keep]
        self.meta = [rows[i] for i in keep]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        item: dict[str, Any] = to_item(self.arrays, int(self._rows[index]))
        item["name"] = self.names[index]
        item["index"] = int(index)
        return item

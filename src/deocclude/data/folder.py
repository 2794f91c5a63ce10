"""A folder of users' own face photos as a Dataset with the same items as UTKFaceFaces.

Landmarks come from the package's own faces path (largest face per photo); masks are
optional. Everything is cached like the UTKFace set: landmarks once per folder state
(file names, sizes, modification times), aligned crops once per size.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch.utils.data import Dataset

from deocclude.data.cache import ArraySpec, MemmapCached, load_or_build
from deocclude.data.utkface import align_sample, to_item
from deocclude.errors import DeoccludeError, ImageReadError, NoFaceError
from deocclude.paths import cache_root

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
CACHE_VERSION = 1


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, sorted; hidden folders skipped)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _find_landmarks(root: Path, files: list[Path], cache: Path) -> dict[str, np.ndarray]:
    """{relative path: (468, 3) landmarks} for every photo with a face (cached)."""
    if cache.is_file():
        with np.load(cache) as z:
            return {n: z["points"][i] for i, n in enumerate(json.loads(str(z["names"])))}
    from rich.progress import track

    from deocclude.faces.find import FaceFinder
    from deocclude.imageio import read_image

    finder = FaceFinder()
    found: dict[str, np.ndarray] = {}
    for path in track(files, description=f"finding faces in {root}"):
        rel = path.relative_to(root).as_posix()
        try:
            found[rel] = np.asarray(finder.largest_face(read_image(path)).landmarks, np.float32)
        except (ImageReadError, NoFaceError) as exc:
            warnings.warn(f"skipping {path}: {exc}", RuntimeWarning, stacklevel=3)
    cache.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(found)
    points = np.stack([found[n] for n in names]) if names else np.zeros((0, 468, 3), np.float32)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, names=json.dumps(names), points=points)
    tmp.replace(cache)
    return found


class FaceFolder(MemmapCached, Dataset):
    """Aligned faces from a folder of photos (largest face of each; photos without one are
    skipped with a warning).

    Items match :class:`deocclude.data.UTKFaceFaces`. Without masks, ``face_mask`` is the
    whole mesh (the face is assumed unoccluded) and ``hair_mask`` is 0; with
    ``masks=DIR``, ``DIR/<relative path stem>.png`` (white = visible face) gives
    ``face_mask`` (warped like the image, soft) where it exists.
    """

    _array_keys = ("image", "valid", "mesh", "hair", "face", "landmarks")

    def __init__(self, path: str | Path, size: int = 128, cache_dir: str | Path | None = None,
                 masks: str | Path | None = None) -> None:
        self.root = Path(path)
        if not self.root.is_dir():
            raise DeoccludeError(f"not a folder of photos: {self.root}")
        self.size = int(size)
        files = list_images(self.root)
        if not files:
            raise DeoccludeError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {self.root}")
        state = "\n".join(f"{p.relative_to(self.root).as_posix()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                          for p in files)
        digest = hashlib.sha1((str(self.root.resolve()) + "\n" + state).encode()).hexdigest()[:12]
        base = Path(cache_dir or cache_root())
        found = _find_landmarks(self.root, files, base / f"folder_landmarks_{digest}.npz")
        names = sorted(found)
        if not names:
            raise DeoccludeError(f"no face found in any of the {len(files)} images under {self.root}")
        mask_root = Path(masks) if masks is not None else None
        mdigest = hashlib.sha1(str(mask_root.resolve() if mask_root else "").encode()).hexdigest()[:6]
        n = self.size
        specs: ArraySpec = {"image": ((n, n, 3), np.uint8), "valid": ((n, n), np.uint8), "mesh": ((n, n), np.uint8),
                 "hair": ((n, n), np.uint8), "face": ((n, n), np.uint8), "landmarks": ((468, 3), np.float32)}

        def build():
            from deocclude.imageio import read_image

            for name in names:
                image = read_image(self.root / name)
                mask = None
                if mask_root is not None:
                    mp = mask_root / Path(name).with_suffix(".png")
                    mask = cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE) if mp.is_file() else None
                    if mask is not None and mask.shape != image.shape[:2]:
                        warnings.warn(f"ignoring {mp}: size differs from the photo", RuntimeWarning, stacklevel=2)
                        mask = None
                row = align_sample(image, mask, found[name], n)
                row["face"] = row.pop("hair") if mask is not None else row["mesh"]
                row["hair"] = np.zeros((n, n), np.uint8)
                yield row

        meta = {"version": CACHE_VERSION, "size": n, "count": len(names), "digest": digest, "masks": mdigest}
        self._entry = base / f"folder_{n}_{digest}_{mdigest}"
        self.arrays = load_or_build(self._entry, specs, len(names), build, meta, f"aligning {self.root} at {n}px")
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        item: dict[str, Any] = to_item(self.arrays, index)
        item["name"] = self.names[index]
        item["index"] = int(index)
        return item

"""Reading the UTKFace training material the face model and the teacher are built from.

Paths come from :func:`deocclude.paths.utkface_root`; nothing is copied into the repo.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.imageio import read_image


@dataclass(frozen=True)
class UtkIndex:
    """The index joined with the landmarks (same order)."""

    root: Path
    names: np.ndarray  # (N,) image file names
    split: np.ndarray  # (N,) 'train' | 'val' | 'test'
    visible_ratio: np.ndarray  # (N,) float
    points: np.ndarray  # (N, 468, 3) float32, 200x200 crop pixels + MediaPipe relative z

    def select(self, split: str | None = None, min_visible: float = 0.0) -> np.ndarray:
        """Indices of faces in ``split`` (None = all) with visible_ratio >= min_visible."""
        keep = self.visible_ratio >= min_visible
        if split is not None:
            keep &= self.split == split
        return np.flatnonzero(keep)

    def image(self, i: int) -> np.ndarray:
        return read_image(self.root / "images" / str(self.names[i]))

    def face_mask(self, i: int) -> np.ndarray:
        """Visible-face mask (H, W) float32, 1 = face."""
        import cv2

        stem = str(self.names[i])[: -len(".jpg")]
        path = self.root / "face_masks" / f"{stem}.png"
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise DeoccludeError(f"cannot read face mask {path}")
        return (mask > 127).astype(np.float32)


def load_index(root: Path) -> UtkIndex:
    """Read ``index.csv`` + ``landmarks.npz`` and check they agree."""
    lm_path, csv_path = root / "landmarks.npz", root / "index.csv"
    if not lm_path.is_file() or not csv_path.is_file():
        raise DeoccludeError(f"UTKFace data not found under {root} (set DEOCCLUDE_DATA)")
    data = np.load(lm_path)
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = np.array([r["file"] for r in rows])
    if not np.array_equal(names, data["names"]):
        raise DeoccludeError(f"{csv_path} and {lm_path} list different faces")
    return UtkIndex(
        root=root,
        names=names,
        split=np.array([r["split"] for r in rows]),
        visible_ratio=np.array([float(r["visible_ratio"]) for r in rows], dtype=np.float32),
        points=data["points"].astype(np.float32),
    )


def load_topology(root: Path) -> tuple[np.ndarray, list[list[int]]]:
    """The 854 tessellation triangles and the 3 hole loops (eyes, mouth) of the mesh.

    Prefers :mod:`deocclude.faces.mesh` (bundled with the package) and falls back to the
    data folder's ``mesh_topology.json`` (the same MediaPipe tessellation).
    """
    try:
        from deocclude.faces import mesh

        return np.asarray(mesh.TRIANGLES, dtype=np.int64), [list(map(int, h)) for h in mesh.HOLE_LOOPS]
    except (ImportError, AttributeError):
        import json

        path = root / "mesh_topology.json"
        if not path.is_file():
            raise DeoccludeError(f"mesh topology not found: {path}") from None
        topo = json.loads(path.read_text())
        return np.asarray(topo["triangles"], dtype=np.int64), [list(map(int, h)) for h in topo["hole_loops"]]


def aligned_batch(index: UtkIndex, ids, size: int):
    """Aligned N x N crops of faces ``ids``: images (B, 3, N, N) float in [0, 1], landmarks
    (B, 468, 3) in crop pixels, visible-face masks M_F (B, N, N) (0 outside the real photo)."""
    import cv2
    import torch

    from deocclude.faces.align import align_face, to_opencv

    images, landmarks, masks = [], [], []
    for i in ids:
        aligned = align_face(index.image(int(i)), index.points[int(i)], size)
        mask = cv2.warpAffine(index.face_mask(int(i)), to_opencv(aligned.matrix), (size, size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        images.append(aligned.crop)
        landmarks.append(aligned.landmarks)
        masks.append(((mask > 0.5) & (aligned.valid > 0.99)).astype(np.float32))
    img = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return img, torch.from_numpy(np.stack(landmarks)).float(), torch.from_numpy(np.stack(masks))

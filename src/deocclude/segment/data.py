"""S's training and validation samples: aligned UTKFace faces + synthetic occluders.

Each face is warped to the canonical N×N crop with :func:`deocclude.faces.align.align_face`
(its visible-face mask with the same matrix), its mesh surface M_R is rasterised from the
aligned landmarks, and an occluder from :class:`deocclude.synth.OcclusionSynthesizer` is
composed on it (METHOD.md eq. 2). The target is the visible face after occlusion,
M_F' = M_F ⊙ (1 − A). Everything random comes from the per-sample seed the loop hands in,
so a run is reproducible and resumable.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from deocclude.faces.align import align_face, to_opencv
from deocclude.faces.mesh import mesh_mask


@dataclass(frozen=True)
class FaceEntry:
    name: str
    index: int  # row in landmarks.npz
    visible_ratio: float


class UTKFaceIndex:
    """Names, splits, visible ratios and landmarks of the shared UTKFace folder (loaded once)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        data = np.load(self.root / "landmarks.npz")
        self.points = data["points"].astype(np.float32)
        row = {str(n): i for i, n in enumerate(data["names"])}
        self.entries: dict[str, list[FaceEntry]] = {}
        with (self.root / "index.csv").open(newline="") as f:
            for rec in csv.DictReader(f):
                entry = FaceEntry(rec["file"], row[rec["file"]], float(rec["visible_ratio"]))
                self.entries.setdefault(rec["split"], []).append(entry)

    def split(self, name: str, min_visible_ratio: float = 0.0, limit: int = 0) -> list[FaceEntry]:
        faces = [e for e in self.entries[name] if e.visible_ratio >= min_visible_ratio]
        return faces[:limit] if limit > 0 else faces


def load_aligned_face(root: Path, entry: FaceEntry, points: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """One face at N×N: ``image`` uint8, ``face_mask``/``mesh_mask``/``valid`` float32, ``landmarks`` (468,3)."""
    from deocclude.imageio import read_image

    photo = read_image(root / "images" / entry.name)
    aligned = align_face(photo, points, size)
    raw = cv2.imread(str(root / "face_masks" / (entry.name[: -len(".jpg")] + ".png")), cv2.IMREAD_GRAYSCALE)
    face = cv2.warpAffine(raw.astype(np.float32) / 255.0, to_opencv(aligned.matrix), (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return {
        "image": aligned.crop,
        "face_mask": np.clip(face, 0.0, 1.0),
        "mesh_mask": mesh_mask(aligned.landmarks, size, size),
        "valid": aligned.valid,
        "landmarks": aligned.landmarks,
    }


def load_val_faces(root: Path, count: int, size: int = 128) -> list[dict[str, np.ndarray]]:
    """The first ``count`` val faces, aligned (used by tests and benchmarks)."""
    index = UTKFaceIndex(root)
    return [load_aligned_face(index.root, e, index.points[e.index], size) for e in index.split("val", limit=count)]


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)


def _plane(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]


class _FaceSource:
    """Shared by the train and val sets: faces of one split, an occlusion synthesizer."""

    def __init__(self, root: Path, faces: list[FaceEntry], points: np.ndarray, size: int, synth_split: str) -> None:
        self.root, self.faces, self.size, self.synth_split = Path(root), faces, size, synth_split
        self.points = points[[f.index for f in faces]]  # only this split's landmarks travel to workers

    @cached_property
    def synthesizer(self) -> Any:
        # Built lazily so each DataLoader worker makes its own (banks are read once per process).
        from deocclude.synth import OcclusionSynthesizer

        return OcclusionSynthesizer(split=self.synth_split)

    def face(self, i: int) -> dict[str, np.ndarray]:
        return load_aligned_face(self.root, self.faces[i], self.points[i], self.size)

    def occlude(self, face: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(occluded image float [0,1], alpha A)."""
        occ = self.synthesizer(face["image"].astype(np.float32) / 255.0, face["landmarks"], rng)
        return occ.image, occ.alpha


class SegmentTrainSet(Dataset):
    """Train faces; key ``(index, seed)`` → occluded (or, sometimes, clean) face and its target.

    ``repeats`` (round 2) lists face indices to show more than once per epoch.
    """

    def __init__(self, source: _FaceSource, clean_fraction: float, repeats: list[int] | None = None) -> None:
        self.source, self.clean_fraction = source, clean_fraction
        self.order = list(range(len(source.faces))) + list(repeats or [])

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        pos, seed = key
        rng = np.random.default_rng(seed)
        face = self.source.face(self.order[pos])
        image = face["image"].astype(np.float32) / 255.0
        alpha = np.zeros(image.shape[:2], np.float32)
        if rng.random() >= self.clean_fraction:
            image, alpha = self.source.occlude(face, rng)
        if rng.random() < 0.5:  # mirror: faces are near-symmetric, occluders are not
            image, alpha = image[:, ::-1], alpha[:, ::-1]
            face = {k: v[:, ::-1] for k, v in face.items() if k != "landmarks"}
        return {
            "image": _chw(image),
            "target": _plane(face["face_mask"] * (1.0 - alpha)),
            "valid": _plane(face["valid"]),
        }


class SegmentValSet(Dataset):
    """Val faces, each clean and with one held-out occluder (fixed seed per face)."""

    def __init__(self, source: _FaceSource, seed: int) -> None:
        self.source, self.seed = source, seed

    def __len__(self) -> int:
        return len(self.source.faces)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        face = self.source.face(i)
        occluded, alpha = self.source.occlude(face, np.random.default_rng([self.seed, i]))
        return {
            "clean_image": _chw(face["image"].astype(np.float32) / 255.0),
            "clean_target": _plane(face["face_mask"]),
            "image": _chw(occluded),
            "target": _plane(face["face_mask"] * (1.0 - alpha)),
            "mesh": _plane(face["mesh_mask"]),
            "occlusion": _plane(alpha * face["mesh_mask"]),  # true synthetic occlusion of the face
            "valid": _plane(face["valid"]),
        }


def build_sets(root: Path, size: int, min_visible_ratio: float, clean_fraction: float, train_limit: int, val_limit: int, val_seed: int, hard: list[str] | None = None, hard_repeat: int = 1) -> tuple[SegmentTrainSet, SegmentValSet]:
    index = UTKFaceIndex(root)
    train_faces = index.split("train", min_visible_ratio, train_limit)
    repeats: list[int] = []
    if hard:
        pos = {f.name: i for i, f in enumerate(train_faces)}
        repeats = [pos[n] for n in hard if n in pos] * max(0, hard_repeat - 1)
    train = SegmentTrainSet(_FaceSource(root, train_faces, index.points, size, "train"), clean_fraction, repeats)
    val = SegmentValSet(_FaceSource(root, index.split("val", 0.0, val_limit), index.points, size, "test"), val_seed)
    return train, val

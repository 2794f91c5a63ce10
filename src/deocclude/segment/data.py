"""S's training and validation samples, built on the shared data API.

Faces come from :class:`deocclude.data.UTKFaceFaces` (aligned N×N crops, cached), and
occluders from :class:`deocclude.synth.OccludedFaces` (docs/method.md §2, eq. 2); the target is
the visible face after occlusion, ``face_mask_occluded`` = M_F ⊙ (1 − A), and for the parser
``classes`` = soft [face, hair, other] targets (a synthetic hair occluder counts as hair). For training,
every random choice comes from the per-sample seed the loop's sampler hands in
(``(index, seed)`` keys), so a run is reproducible and resumes to the same samples.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from deocclude.data import UTKFaceFaces
from deocclude.segment.classes import parse_targets
from deocclude.synth import OccludedFaces, OcclusionSynthesizer
from deocclude.synth.config import weighted_config


class _SeededOccludedFaces(OccludedFaces):
    """OccludedFaces whose generator is the loop's per-sample seed, not (seed, epoch, index)."""

    _sample_seed = 0

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(self._sample_seed)

    def sample(self, index: int, seed: int) -> dict:
        self._sample_seed = seed
        return self[index]


@functools.lru_cache(maxsize=2)
def synthesizer(split: str, weights: tuple[float, ...] = ()) -> OcclusionSynthesizer:
    """One synthesizer per split (and category weights) and process: reading the banks takes seconds.

    ``weights``: relative draw probability of each category, as :func:`deocclude.synth.config.weighted_config`
    reads them (empty = the default categories, all equal; 15 weights add the realistic masks and glasses).
    """
    return OcclusionSynthesizer(weighted_config(tuple(weights)), split=split)


def load_faces(root: Path, split: str, size: int, min_visible_ratio: float | None, limit: int) -> Dataset:
    faces = UTKFaceFaces(root, split=split, size=size, min_visible_ratio=min_visible_ratio)
    return Subset(faces, range(min(limit, len(faces)))) if limit > 0 else faces


def face_names(faces: Dataset) -> list[str]:
    if isinstance(faces, Subset):
        return [face_names(faces.dataset)[i] for i in faces.indices]
    return list(faces.names)  # type: ignore[attr-defined]


def photometric_jitter(image: torch.Tensor, rng: np.random.Generator, strength: float) -> torch.Tensor:
    """(3, N, N) image in [0, 1] under another light: a colour cast, exposure, gamma, sometimes grey.

    Why: UTKFace's faces are mostly evenly lit, and the parser called a purple-lit cheek "other"
    (wild img27) and a pink cast on a grey photo "face"; the labels do not change with the light,
    so S learns that they should not. ``strength`` 1 = per-channel gains 0.75-1.25, exposure
    0.7-1.3, gamma 0.7-1.4, grey with probability 0.1.
    """
    gains = 1.0 + strength * rng.uniform(-0.25, 0.25, size=3)
    exposure = 1.0 + strength * rng.uniform(-0.3, 0.3)
    gamma = float(np.exp(strength * rng.uniform(np.log(0.7), np.log(1.4))))
    out = image * torch.as_tensor(gains * exposure, dtype=image.dtype).view(3, 1, 1)
    out = out.clamp(0.0, 1.0) ** gamma
    if rng.random() < 0.1 * strength:
        grey = (0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2]).unsqueeze(0)
        out = grey.expand_as(out)
    return out.contiguous()


class SegmentTrainSet(Dataset):
    """Key ``(position, seed)`` → an occluded (or, with ``clean_fraction``, clean) face and its target.

    ``repeats`` (round 2) lists face indices shown more than once per epoch.
    """

    def __init__(self, faces: Dataset, clean_fraction: float, repeats: list[int] | None = None,
                 occluder_weights: tuple[float, ...] = (), photometric: float = 0.0) -> None:
        self.faces = faces
        self.photometric = photometric
        self.names = face_names(faces)
        self.occluded = _SeededOccludedFaces(faces, synthesizer("train", tuple(occluder_weights)),
                                             p_clean=clean_fraction)
        self.order = list(range(len(faces))) + list(repeats or [])  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        pos, seed = key
        item = self.occluded.sample(self.order[pos], seed)
        image = item["occluded"]
        if self.photometric > 0:
            image = photometric_jitter(image, np.random.default_rng([seed, 2]), self.photometric)
        out = {
            "image": image,
            "target": item["face_mask_occluded"],
            "valid": item["valid"],
            "classes": _classes(item),
        }
        if np.random.default_rng([seed, 1]).random() < 0.5:  # mirror: faces are near-symmetric, occluders are not
            out = {k: v.flip(-1) for k, v in out.items()}
        return {k: v.contiguous() for k, v in out.items()}


class SegmentValSet(Dataset):
    """Val faces, each clean and with one held-out (``split="test"``) occluder, fixed per face."""

    def __init__(self, faces: Dataset, seed: int) -> None:
        self.occluded = OccludedFaces(faces, synthesizer("test"), seed=seed, p_clean=0.0)

    def __len__(self) -> int:
        return len(self.occluded)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.occluded[i]
        return {
            "clean_image": item["image"],
            "clean_target": item["face_mask"],
            "image": item["occluded"],
            "target": item["face_mask_occluded"],
            "mesh": item["mesh_mask"],
            "occlusion": item["occlusion"],  # true synthetic occlusion of the face, A ⊙ M_R
            "valid": item["valid"],
            "clean_classes": parse_targets(
                item["face_mask"], item["hair_mask"], torch.zeros_like(item["alpha"]), False
            ),
            "classes": _classes(item),
        }


HAIR_CATEGORY = "hair"  # the synthesizer's category for donor hair and procedural bangs (synth/hair.py)


def _classes(item: dict) -> torch.Tensor:
    """(3,N,N) soft [face, hair, other] targets of an occluded item (see classes.parse_targets)."""
    return parse_targets(item["face_mask"], item["hair_mask"], item["alpha"], item["category"] == HAIR_CATEGORY)

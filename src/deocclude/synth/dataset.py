"""Synthetically occluded faces: a faces Dataset wrapped with an occlusion synthesizer.

Every sample is a pure function of (seed, epoch, index): its Generator is seeded with
``SeedSequence([seed, epoch, index])``, so worker count and order never change what a
sample looks like, and a fixed seed gives the same training stream on any machine. Call
:meth:`OccludedFaces.set_epoch` to draw fresh occlusions each epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from deocclude.synth.synthesizer import OcclusionSynthesizer

CLEAN = "none"


class OccludedFaces(Dataset):
    """Adds ``occluded`` (3, N, N), ``alpha`` (1, N, N) = A, ``face_mask_occluded`` =
    M_F (1 - A), ``occlusion`` = A * mesh_mask (the true occlusion of the face) and
    ``category`` (str; ``"none"`` for the ``p_clean`` share left unoccluded) to every item
    of ``faces_dataset`` (items as produced by :class:`deocclude.data.UTKFaceFaces`).
    """

    def __init__(self, faces_dataset: Dataset, synthesizer: OcclusionSynthesizer, seed: int = 0,
                 p_clean: float = 0.1, category: str | None = None) -> None:
        self.faces = faces_dataset
        self.synth = synthesizer
        self.seed = int(seed)
        self.p_clean = float(p_clean)
        self.category = category
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.faces)  # type: ignore[arg-type]

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index)]))

    def __getitem__(self, index: int) -> dict:
        item = dict(self.faces[index])
        rng = self.rng(index)
        image = item["image"]
        if rng.random() < self.p_clean:
            alpha = torch.zeros_like(item["face_mask"])
            occluded, category = image.clone(), CLEAN
        else:
            occ = self.synth(image.permute(1, 2, 0).numpy(), item["landmarks"].numpy(), rng, self.category)
            occluded = torch.from_numpy(occ.image).permute(2, 0, 1).contiguous()
            alpha = torch.from_numpy(occ.alpha)[None]
            category = occ.category
        item["occluded"] = occluded
        item["alpha"] = alpha
        item["face_mask_occluded"] = item["face_mask"] * (1.0 - alpha)
        item["occlusion"] = alpha * item["mesh_mask"]
        item["category"] = category
        return item

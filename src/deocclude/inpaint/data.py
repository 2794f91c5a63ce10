"""G's training and validation samples: a clean face, a synthetic occluder, the prior.

One sample (all masks (1, N, N), images (3, N, N) in [0, 1]):

- ``image`` I (clean), ``occluded`` I' (eq. 2), ``valid`` (1 = real photo pixel);
- ``hole`` M_O = M_R ⊙ (1 − M_F'), with M_F' the visible face of the *occluded* image: the
  synthetic occluder plus the face's own real occlusions (hair), binarised at
  ``HOLE_THRESHOLD``; with ``hole="pipeline"`` then shaped exactly as the pipeline shapes
  the M_O it hands G at run time (masks/occlusion.py);
- ``face_mask`` M_F of the clean image (L_face: supervises the synthetic occlusion);
- ``orig_occlusion`` = M_R ⊙ (1 − M_F) of the clean image: its real occlusions (L_ssim);
- ``render_mask`` M_R, ``prior`` I_R (zeros if none or not fed; with ``carry_prior`` its
  background carried outwards, as the pipeline feeds it) and ``has_prior`` (0/1: G sees I_R);
- ``has_target`` (0/1): the face has a render, so I_P is a real Poisson target (L_ssim);
- ``poisson`` I_P (the clean image where there is no prior or no real occlusion);
- ``real_ok`` (1 if the clean face may serve as a "real" image for D, eq. 16).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from deocclude.data.cache import MemmapCached, load_or_build
from deocclude.inpaint.guidance import render_guidance_tensor
from deocclude.inpaint.poisson import poisson_target
from deocclude.inpaint.prior import Prior
from deocclude.masks import G_HOLE_DILATE
from deocclude.masks.occlusion import shape_occlusion
from deocclude.paths import cache_root

HOLE_THRESHOLD = 0.1  # soft alpha / hair edges above this are treated as occluded (no faint fringes left)


def _uint8(t: torch.Tensor) -> np.ndarray:
    return (t.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def original_occlusion(item: dict, render_mask: torch.Tensor) -> torch.Tensor:
    """M_R ⊙ (1 − M_F) of the clean face, binarised: where the face is but is not seen."""
    return (render_mask * (1 - item["face_mask"]) > 0.5).float()


class PoissonTargets(MemmapCached):
    """I_P for every face of a dataset, computed once per (faces, prior) and memory-mapped."""

    _array_keys = ("target",)

    def __init__(self, faces, prior: Prior, cache_dir: str = "") -> None:
        self.enabled = prior.available
        if not self.enabled:
            return
        names = list(faces.names)
        digest = hashlib.sha1(("\n".join(names) + prior.key).encode()).hexdigest()[:10]
        n = faces.size
        entry = self._entry = (Path(cache_dir) if cache_dir else cache_root()) / f"inpaint_poisson_{n}_{digest}"

        def rows():
            for i in range(len(faces)):
                item = faces[i]
                render, mask = prior(item)
                img = _uint8(item["image"])
                if render is None:
                    yield {"target": img}
                else:
                    yield {"target": poisson_target(img, _uint8(render), original_occlusion(item, mask)[0].numpy())}

        self.arrays = load_or_build(entry, {"target": ((n, n, 3), np.uint8)}, len(names), rows,
                                    {"version": 2, "prior": prior.key, "count": len(names), "size": n},
                                    "Poisson targets I_P")

    def __call__(self, index: int, item: dict) -> torch.Tensor:
        if not self.enabled:
            return item["image"]
        return (
            torch.from_numpy(np.asarray(self.arrays["target"][index], dtype=np.float32) / 255.0)
            .permute(2, 0, 1)
            .contiguous()
        )


class InpaintSamples(Dataset):
    """Faces + synthetic occluders + prior → G's samples (see the module docstring).

    ``train=True``: keys are ``(index, seed)`` from the loop's sampler; otherwise plain
    indices, with the occluder seeded by ``seed + index`` (deterministic validation).
    """

    def __init__(self, faces, synthesizer, prior: Prior, poisson: PoissonTargets, clean_fraction: float,
                 real_min_visible_ratio: float, train: bool, seed: int = 0, limit: int = 0,
                 feed_prior: bool = True, hole: str = "paper", carry_prior: bool = False) -> None:
        self.faces, self.synth, self.prior, self.poisson = faces, synthesizer, prior, poisson
        self.feed_prior, self.hole_shape, self.carry_prior = feed_prior, hole, carry_prior
        self.clean_fraction, self.train, self.seed = clean_fraction, train, seed
        self.real_ok = np.asarray(faces.visible_ratio) >= real_min_visible_ratio
        self.length = len(faces) if limit <= 0 else min(limit, len(faces))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key) -> dict:
        index, seed = key if self.train else (int(key), self.seed + int(key))
        item = self.faces[index]
        rng = np.random.default_rng(seed)
        image = item["image"]
        if rng.random() < self.clean_fraction:
            occluded, alpha, category = image.clone(), torch.zeros_like(item["face_mask"]), "none"
        else:
            occ = self.synth(image.permute(1, 2, 0).numpy(), item["landmarks"].numpy(), rng)
            occluded = torch.from_numpy(occ.image).permute(2, 0, 1).contiguous()
            alpha, category = torch.from_numpy(occ.alpha)[None], occ.category
        render, render_mask = self.prior(item)
        has_target = render is not None  # I_P exists (L_ssim's target) whether or not G sees I_R
        if not self.feed_prior:  # the "no I_R" ablation: same M_R and I_P, G just never sees I_R
            render = None
        elif render is not None and self.carry_prior:
            render = render_guidance_tensor(render[None], render_mask[None])[0]
        visible = item["face_mask"] * (1 - alpha)
        hole = (render_mask * (1 - visible) > HOLE_THRESHOLD).float()
        if self.hole_shape == "pipeline":
            shaped = shape_occlusion(hole[0].numpy(), render_mask[0].numpy(), item["valid"][0].numpy(),
                                     dilate=G_HOLE_DILATE)
            hole = torch.from_numpy(shaped)[None]
        return {
            "image": image,
            "occluded": occluded,
            "valid": item["valid"],
            "hole": hole,
            "face_mask": item["face_mask"],
            "orig_occlusion": original_occlusion(item, render_mask),
            "render_mask": render_mask,
            "prior": render if render is not None else torch.zeros_like(image),
            "has_prior": torch.tensor(float(render is not None)),
            "has_target": torch.tensor(float(has_target)),
            "poisson": self.poisson(index, item),
            "real_ok": torch.tensor(float(self.real_ok[index])),
            "synthetic": alpha * item["mesh_mask"],
            "category": category,
            "name": item["name"],
        }

"""R's render I_R Poisson-blended into M_O: the default fill (``--fill prior``, ``auto`` with R).

Eyes and brows come back from the 3D face, colours from the hole's rim (the paper's I_P,
used as G's L_ssim target, here as a fill of its own); inside the face surface M_R from the
visible face alone, so a collar, a hood or the rest of a face mask beside the hole does not tint
the face (:func:`~deocclude.inpaint.classical.prior_blend`'s ``face_boundary``: 64 faces, facemask
L1 0.0862 -> 0.0714, mixed 0.0743 -> 0.0680, sunglasses 0.0745 -> 0.0732). It beats OpenCV by a wide
margin on both protocols (benchmarks/results/eval_*.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.face_batch import FaceBatch, images_to_tensor
from deocclude.fills.registry import register_fill
from deocclude.inpaint.classical import prior_blend

if TYPE_CHECKING:
    import torch


@register_fill("prior")
class PriorBlendFill:
    """:func:`deocclude.inpaint.classical.prior_blend` of every crop (needs ``batch.render``)."""

    name, label, needs_render = "prior", "I_R Poisson blend", True

    def __init__(self, **_: object) -> None:
        pass

    def describe(self, batch: FaceBatch) -> str:
        return self.label

    def __call__(self, batch: FaceBatch) -> torch.Tensor:
        if batch.render is None:
            raise DeoccludeError("the I_R blend needs R's render (reconstruct_r.safetensors is not installed)")
        holes = batch.occlusion if batch.occlusion is not None else np.zeros(batch.crops.shape[:3], np.float32)
        return images_to_tensor(np.stack([prior_blend(c, h, r, m) for c, h, r, m
                                          in zip(batch.crops, holes, batch.render, batch.region)]))

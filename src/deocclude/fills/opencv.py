"""OpenCV's classical inpainting, Telea (fast marching) and Navier-Stokes: no learning, no prior."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deocclude.face_batch import FaceBatch, images_to_tensor
from deocclude.fills.registry import register_fill
from deocclude.inpaint.classical import ClassicalMethod, classical_inpaint

if TYPE_CHECKING:
    import torch


class OpenCVFill:
    """``cv2.inpaint`` of every crop inside M_O (radius from the hole's size: inpaint/classical.py)."""

    needs_render = False

    def __init__(self, method: ClassicalMethod, label: str, **_: object) -> None:
        self.name: str = method
        self.label: str = label
        self.method: ClassicalMethod = method

    def describe(self, batch: FaceBatch) -> str:
        return self.label

    def __call__(self, batch: FaceBatch) -> torch.Tensor:
        holes = batch.occlusion if batch.occlusion is not None else np.zeros(batch.crops.shape[:3], np.float32)
        return images_to_tensor(np.stack([classical_inpaint(c, h, self.method) for c, h in zip(batch.crops, holes)]))


@register_fill("telea")
def telea(**options: object) -> OpenCVFill:
    """OpenCV Telea: the default fill when R's weights are missing."""
    return OpenCVFill("telea", "OpenCV Telea", **options)


@register_fill("navier-stokes")
def navier_stokes(**options: object) -> OpenCVFill:
    """OpenCV Navier-Stokes: the paper's second classical baseline."""
    return OpenCVFill("navier-stokes", "OpenCV Navier-Stokes", **options)

"""Every way a row fills a mask: OpenCV Telea / Navier-Stokes, a G, and the full pipeline.

Each fill takes the batch's uint8 occluded crops and a (B, N, N) mask (1 = fill) and
returns (B, 3, N, N) floats in [0, 1] with the pixels outside the mask untouched, so rows
differ only in what they put inside the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deocclude.errors import DeoccludeError
from deocclude.inpaint.classical import ClassicalMethod, classical_inpaint
from deocclude.inpaint.guidance import render_guidance
from deocclude.masks.outline import DEFAULT_OUTLINE_BAND


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, N, N, 3) uint8 → (B, 3, N, N) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def classical_fill(occluded: np.ndarray, masks: np.ndarray, method: ClassicalMethod) -> torch.Tensor:
    """OpenCV inpainting of every crop (Telea or Navier-Stokes)."""
    return to_tensor(np.stack([classical_inpaint(img, m, method) for img, m in zip(occluded, masks)]))


def prior_fill(occluded: np.ndarray, masks: np.ndarray, renders: np.ndarray, render_masks: np.ndarray) -> torch.Tensor:
    """R's render I_R Poisson-blended into every mask (the pipeline's ``fill="prior"``)."""
    from deocclude.inpaint.classical import prior_blend

    return to_tensor(np.stack([prior_blend(img, m, r, rm) for img, m, r, rm in zip(occluded, masks, renders, render_masks)]))


@dataclass(frozen=True)
class LoadedG:
    """A G to compare, under the label its rows carry."""

    label: str
    inpainter: object  # deocclude.inpaint.api.Inpainter

    @property
    def uses_prior(self) -> bool:
        """G was trained with I_R as an input (weights metadata); older G builds have no flag."""
        return bool(getattr(self.inpainter, "uses_prior", False))

    def fill(self, occluded: np.ndarray, masks: np.ndarray, guidance: np.ndarray | None, seed: int) -> torch.Tensor:
        """G's fill; ``guidance`` (R's render carried over its background, as the pipeline
        feeds G: :attr:`PipelineOutput.guidance`) is the prior when this G was trained with one."""
        prior = to_tensor(guidance) if guidance is not None and self.uses_prior else None
        hole = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32))[:, None]
        return self.inpainter.fill(to_tensor(occluded), hole, prior, seed=seed).cpu()


def load_gs(g_weights: tuple[tuple[str, str], ...], device: str) -> list[LoadedG]:
    """Load every ``(label, weights)``; a file that is not G's weights is a one-line error."""
    from deocclude.inpaint.api import load_inpainter

    loaded = []
    for label, path in g_weights:
        try:
            loaded.append(LoadedG(label, load_inpainter(str(path), device)))
        except DeoccludeError as exc:
            raise DeoccludeError(f"--g-weights {label}: {exc}") from None
    return loaded


@dataclass(frozen=True)
class PipelineOutput:
    """What the automatic rows need from ``Deoccluder.run_aligned`` for one batch."""

    occlusion: np.ndarray
    """(B, N, N) float32 M_O found by S and R (zeros where the pipeline failed)."""
    renders: np.ndarray | None
    """(B, N, N, 3) uint8 I_R, or None when R's weights are not installed."""
    render_masks: np.ndarray
    """(B, N, N) float32 M_R (R's rendered face; the mesh surface without R)."""
    guidance: np.ndarray | None
    """(B, N, N, 3) uint8 I_R carried over its background (G's prior), made once per batch
    for every G row; None without R."""
    telea: torch.Tensor
    """(B, 3, N, N) the pipeline's own result with the Telea fill."""
    failed: int
    method: str


class AutomaticPipeline:
    """The full pipeline on canonical crops: S and R find M_O, OpenCV Telea fills it.

    Built with ``fill="telea"`` so its result is the ``automatic + Telea`` row; the G rows
    refill the same M_O, so every automatic row shares one mask.
    """

    def __init__(self, size: int, device: str, batch_size: int, mask_threshold: float, dilate: int,
                 outline_band: int = DEFAULT_OUTLINE_BAND) -> None:
        from deocclude.pipeline import Deoccluder, DeoccluderConfig

        self.deoccluder = Deoccluder(DeoccluderConfig(size=size, fill="telea", device=device, batch_size=batch_size,
                                                      mask_threshold=mask_threshold, dilate=dilate,
                                                      outline_band=outline_band))
        if not self.deoccluder.can_remove_occlusions:
            raise DeoccludeError("the automatic rows need S's weights (segment_s.safetensors), which are not installed")

    def __call__(self, occluded: np.ndarray) -> PipelineOutput:
        faces = self.deoccluder.run_aligned(list(occluded))
        n = occluded.shape[1]
        ok = [f.status == "ok" and f.occlusion_mask is not None for f in faces]
        masks = np.stack([f.occlusion_mask if good else np.zeros((n, n), np.float32) for f, good in zip(faces, ok)])
        restored = np.stack([f.restored if good else f.aligned.crop for f, good in zip(faces, ok)])
        has_render = all(f.render is not None for f in faces)
        renders = np.stack([f.render for f in faces]) if has_render else None
        methods = sorted({f.method for f, good in zip(faces, ok) if good})
        regions = np.stack([f.face_region for f in faces]).astype(np.float32)
        guidance = None
        if renders is not None:
            guidance = np.stack([render_guidance(r, rm) for r, rm in zip(renders, regions)])
        return PipelineOutput(masks.astype(np.float32), renders, regions, guidance, to_tensor(restored),
                              failed=ok.count(False), method=", ".join(methods))

"""Scores of restored faces: pixels inside the true occlusion, and identity vs the clean face.

Pixel scores are :func:`deocclude.inpaint.task.region_stats` (L1 and PSNR over the region's
pixels in [0, 1], the kornia 11×11 SSIM map averaged over the region), the same numbers
G's training reports, so a validation curve and this table can be compared. Identity is the
dlib-ResNet descriptor of the whole crop (not ArcFace, the paper's network): its cosine to
the clean face's descriptor, and dlib's own Euclidean distance (< 0.6 = same person),
because dlib's cosines are high for any two faces and the distance separates better.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from deocclude.inpaint.task import region_stats

PIXEL_METRICS = ("l1", "ssim", "psnr")


def pixel_scores(pred: torch.Tensor, clean: torch.Tensor, region: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-face L1, SSIM, PSNR of (B, 3, N, N) ``pred`` vs ``clean`` inside (B, 1, N, N) ``region``; NaN where it is empty."""
    stats = region_stats(pred.float(), clean.float(), region.float())
    return {k: stats[k].cpu().double().numpy() for k in PIXEL_METRICS}


class IdentityScorer:
    """Identity of restored faces vs their clean originals: embeds each clean batch once."""

    def __init__(self, device: str = "cpu") -> None:
        from deocclude.identity.weights import load_identity_network

        self.network = load_identity_network(device=device)
        self.device = device
        self._reference: torch.Tensor | None = None

    @torch.no_grad()
    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        from deocclude.identity.embed import face_embedding

        return face_embedding(crops.to(self.device), self.network).cpu().double()

    def set_reference(self, clean: torch.Tensor) -> None:
        """The clean faces the next :meth:`score` calls compare against."""
        self._reference = self.embed(clean)

    def score(self, crops: torch.Tensor) -> dict[str, np.ndarray]:
        """Per-face ``id_cos`` (cosine) and ``id_dist`` (Euclidean, dlib's metric) to the reference."""
        if self._reference is None:
            raise RuntimeError("set_reference() first")
        emb = self.embed(crops)
        cos = torch.nn.functional.cosine_similarity(emb, self._reference, dim=1)
        return {"id_cos": cos.numpy(), "id_dist": (emb - self._reference).norm(dim=1).numpy()}


class MeanTable:
    """Per-face values collected per row and metric, summarised as means that skip NaN.

    Each row also reports ``n``: the faces its pixel metrics averaged over (faces with an
    empty true occlusion have no region to score).
    """

    def __init__(self) -> None:
        self._values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def add(self, row: str, scores: dict[str, np.ndarray]) -> None:
        for metric, values in scores.items():
            self._values[row][metric].extend(float(v) for v in np.asarray(values).ravel())

    def summary(self, digits: int = 4) -> dict[str, dict[str, float | int | None]]:
        out: dict[str, dict[str, float | int | None]] = {}
        for row, metrics in self._values.items():
            summary: dict[str, float | int | None] = {}
            for metric, values in metrics.items():
                finite = [v for v in values if not math.isnan(v)]
                summary[metric] = round(float(np.mean(finite)), digits) if finite else None
                summary.setdefault("n", len(finite))
            out[row] = summary
        return out

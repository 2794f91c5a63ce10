"""Scores of restored faces: pixels inside the true occlusion, and identity vs the clean face.

Pixel scores are :func:`deocclude.inpaint.task.region_stats` (L1 and PSNR over the region's
pixels in [0, 1], the kornia 11×11 SSIM map averaged over the region), the same numbers
G's training reports, so a validation curve and this table can be compared. Identity is
measured by two networks against the clean face: the dlib-ResNet descriptor of the whole
crop (its cosine, and dlib's own Euclidean distance, < 0.6 = same person, because dlib's
cosines are high for any two faces) and the ArcFace-class MobileFaceNet on the 5-point chip
(``arc_cos``; unrelated faces ≈ 0), the kind of network the paper measured with. Both
flatter any method that keeps the visible face (eyes blacked still scores 0.65 with ArcFace):
LFW's cross-photo rows (evaluate/lfw.py) are the honest identity test.
"""

from __future__ import annotations

import math
from collections import defaultdict

import cv2
import numpy as np
import torch

from deocclude.inpaint.task import region_stats

PIXEL_METRICS = ("l1", "ssim", "psnr")

# Mesh points of the floors: what identity is left when a face part is simply blacked out.
_EYES = ((33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
         (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466))
_MOUTH = ((61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185),)
FLOORS = {"eyes blacked": _EYES, "mouth blacked": _MOUTH}
"""The floors every identity table shows beside the do-nothing row (issue 16): the clean photo
with both eyes, or the mouth, painted black (each part's hull grown by 0.15 × the eye distance).
A fill that scores no better than these has restored nothing of the person."""


def black_out(crops: np.ndarray, landmarks: np.ndarray, parts: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """(B, N, N, 3) uint8 crops with the hull of each landmark group in ``parts`` painted black."""
    out = crops.copy()
    for image, points in zip(out, landmarks):
        iod = float(np.linalg.norm(points[33, :2] - points[263, :2]))
        grow = max(1, int(round(0.15 * iod)))
        mask = np.zeros(image.shape[:2], np.uint8)
        for part in parts:
            hull = cv2.convexHull(np.round(points[list(part), :2]).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 1)
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        image[mask > 0] = 0
    return out


RING_WIDTH = 6
"""Crop pixels (at N = 128; scaled with N) of the ring around T that ``ring_l1`` scores."""


def ring_around(true: np.ndarray, width: int = RING_WIDTH) -> np.ndarray:
    """(B, N, N) bool: the pixels within ``width`` px (at N = 128) of the true occlusion ``true`` (B, N, N), not in it.

    Why: every pixel metric inside T is blind to what a fill does beside the occluder. There a
    mask that stops short leaves the occluder's soft edge and shadow (opacity under T's 0.5),
    and a generous mask repaints clear skin; both are the halo a user sees. L1 over this ring
    (``ring_l1``) counts both, so the dilation of M_O is chosen on it, not on T alone.
    """
    true = np.asarray(true) > 0.5
    r = max(1, round(width * true.shape[-1] / 128))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    grown = np.stack([cv2.dilate(t.astype(np.uint8), disk) > 0 for t in true]) if len(true) else true
    return grown & ~true


def pixel_scores(pred: torch.Tensor, clean: torch.Tensor, region: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-face L1, SSIM, PSNR of (B, 3, N, N) ``pred`` vs ``clean`` inside (B, 1, N, N) ``region``.

    NaN where the region is empty."""
    stats = region_stats(pred.float(), clean.float(), region.float())
    return {k: stats[k].cpu().double().numpy() for k in PIXEL_METRICS}


class IdentityScorer:
    """Identity of restored faces vs their clean originals, by both networks: embeds each clean batch once."""

    def __init__(self, device: str = "cpu") -> None:
        from deocclude.identity.arcface import load_arcface
        from deocclude.identity.weights import load_identity_network

        self.network = load_identity_network(device=device)
        self.arcface = load_arcface(device=device)
        self.device = device
        self._reference: tuple[torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def embed(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(dlib, ArcFace) embeddings of canonical (B, 3, N, N) crops in [0, 1]."""
        from deocclude.identity.arcface_align import arcface_embedding
        from deocclude.identity.embed import face_embedding

        crops = crops.to(self.device)
        return (face_embedding(crops, self.network).cpu().double(),
                arcface_embedding(crops, network=self.arcface).cpu().double())

    def set_reference(self, clean: torch.Tensor) -> None:
        """The clean faces the next :meth:`score` calls compare against."""
        self._reference = self.embed(clean)

    def score(self, crops: torch.Tensor) -> dict[str, np.ndarray]:
        """Per-face ``id_cos`` (dlib cosine), ``id_dist`` (dlib's Euclidean metric) and ``arc_cos``
        (ArcFace-class cosine) to the reference."""
        if self._reference is None:
            raise RuntimeError("set_reference() first")
        (dlib, arc), (dlib_ref, arc_ref) = self.embed(crops), self._reference
        cos = torch.nn.functional.cosine_similarity
        return {"id_cos": cos(dlib, dlib_ref, dim=1).numpy(), "id_dist": (dlib - dlib_ref).norm(dim=1).numpy(),
                "arc_cos": cos(arc, arc_ref, dim=1).numpy()}


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

"""Colour-true fills: whatever made the pixels, they follow the photo's own colours.

Why: I_R and G carry the colours of their training faces, not of the photo. On a greyscale
photo the blend gave blue-grey eyes and G pink patches; on colour photos G's fill could keep a
pink or brown cast and the blend the tint of an occluder's rim. Every fill made by
:func:`deocclude.fills.make_fill` is wrapped in :class:`ColourTrue`, so the pipeline, every
evaluation row and ``bench`` get the same guarantee, for our fills and for one registered
from outside. Two rules, in YCbCr (BT.601, full range):

1. **Monotone photos** (greyscale, sepia, any one-tint print: the chroma of the crop's
   visible pixels barely varies): the fill keeps its luma and takes the photo's one chroma.
   A greyscale photo stays exactly greyscale (R = G = B).
2. **Colour photos, fills that follow I_R**: the fill's mean chroma (and luma, within
   ``ColourConfig.max_luma_shift``) inside M_O is moved to what the render predicts there (the
   visible face's mean plus the render's own hole-minus-visible difference, so eyes and lips keep
   their offset from skin). The shift fades in from M_O's rim over ``ColourConfig.ramp`` of the
   crop, so no edge appears where the fill meets the photo; it is capped at ``ColourConfig.max_shift``.

Pixels outside M_O are never touched (the fill contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from deocclude.face_batch import FaceBatch
    from deocclude.fills.registry import Fill

_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_YCC = np.linalg.inv(_TO_YCC)


@dataclass(frozen=True)
class ColourConfig:
    """Thresholds of the two rules (grey levels are of 255)."""

    monotone_spread: float = 3.0
    """A crop is monotone when the 98th percentile of its visible pixels' chroma distance from one line
    chroma(luma) is at most this (grey and tinted prints: 0-1.2; the least colourful UTKFace and LFW colour
    faces: see benchmarks/results/colour.md)."""
    ramp: float = 0.05
    """Share of the crop side over which rule 2's shift fades in from M_O's rim (6.4 px at N = 128)."""
    max_shift: float = 24.0
    """Cap on rule 2's chroma shift: a correction, not a repaint."""
    max_luma_shift: float = 24.0
    """Cap on rule 2's luma shift (0 = chroma only, as before session 8): the fill's mean luma is moved, like its
    chroma, to what the render predicts. A white mask's rim glowed through the blend's boundary values and a
    black one darkened it. 64 faces, automatic M_O, blend: facemask L1 0.1039 -> 0.0862, PSNR 18.15 -> 19.38;
    mixed 0.0899 -> 0.0803, 19.70 -> 20.35; sunglasses 0.0766 -> 0.0774, 20.15 -> 20.10 (the one loss)."""
    min_visible: int = 64
    """Fewer visible pixels than this: no statistics to follow, the fill is left as it is."""


def to_ycc(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (..., 3) Y, Cb, Cr (chroma centred on 0), same units."""
    return rgb @ _TO_YCC.T


def from_ycc(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_ycc`."""
    return ycc @ _FROM_YCC.T


def monotone_chroma(crop: np.ndarray, visible: np.ndarray,
                    config: ColourConfig = ColourConfig()) -> np.ndarray | None:
    """The photo's chroma as a function of luma when ``crop`` (N, N, 3) uint8 is monotone over
    ``visible`` (N, N bool), else None.

    Returns (2, 2) ``[[a_cb, b_cb], [a_cr, b_cr]]``: chroma = a + b · Y/255 for Cb and Cr, the
    least-squares line through the visible pixels. Grey photos give zeros; a sepia print's chroma
    grows with brightness (a multiplicative tint), which one constant would not follow.
    """
    if visible.sum() < config.min_visible:
        return None
    ycc = to_ycc(crop[visible].astype(np.float64))
    design = np.stack([np.ones(len(ycc)), ycc[:, 0] / 255.0], axis=1)
    line, *_ = np.linalg.lstsq(design, ycc[:, 1:], rcond=None)
    residual = np.abs(ycc[:, 1:] - design @ line).max(axis=1)
    return line.T if np.percentile(residual, 98) <= config.monotone_spread else None


def _rim_ramp(hole: np.ndarray, ramp_px: float) -> np.ndarray:
    """(N, N) weight: 0 on M_O's rim (depth 1) rising to 1 at ``ramp_px`` further in; 0 outside."""
    from scipy.ndimage import distance_transform_edt

    depth = distance_transform_edt(hole)
    return np.clip((depth - 1.0) / max(ramp_px, 1e-6), 0.0, 1.0)  # the outermost ring keeps the fill


def true_colour(filled: np.ndarray, crop: np.ndarray, hole: np.ndarray, region: np.ndarray,
                render: np.ndarray | None, valid: np.ndarray | None = None,
                config: ColourConfig = ColourConfig(), skin: np.ndarray | None = None) -> np.ndarray:
    """One face: ``filled`` (N, N, 3) float in [0, 1] with its colours made the photo's.

    ``crop`` (N, N, 3) uint8 the photo's crop; ``hole`` (N, N) M_O (> 0.5 = filled); ``region``
    (N, N) M_R; ``render`` (N, N, 3) uint8 I_R or None; ``valid`` (N, N) 1 = a real photo pixel;
    ``skin`` (N, N) S's P(face class): rule 2 reads the visible face's colour where it is > 0.5 (None, or
    fewer than ``min_visible`` such pixels: all of M_R outside M_O). Returns a new array equal to ``filled``
    outside M_O.
    """
    inside = hole > 0.5
    if not inside.any():
        return filled
    seen = ~inside if valid is None else ~inside & (valid > 0.5)
    ycc = to_ycc(filled[inside].astype(np.float64) * 255.0)
    line = monotone_chroma(crop, seen, config)
    if line is not None:  # rule 1
        ycc[:, 1:] = line[:, 0] + ycc[:, :1] / 255.0 * line[:, 1]
    else:  # rule 2
        face_seen, face_hole = seen & (region > 0.5), inside & (region > 0.5)
        on_skin = face_seen if skin is None else face_seen & (skin > 0.5)
        if on_skin.sum() >= config.min_visible:
            face_seen = on_skin
        if render is None or face_seen.sum() < config.min_visible or not face_hole.any():
            return filled
        photo_ycc, render_ycc = to_ycc(crop.astype(np.float64)), to_ycc(render.astype(np.float64))
        expected = (photo_ycc[face_seen].mean(0)
                    + render_ycc[face_hole].mean(0) - render_ycc[face_seen].mean(0))
        current = to_ycc(filled[face_hole].astype(np.float64) * 255.0).mean(0)
        caps = np.array([config.max_luma_shift, config.max_shift, config.max_shift])
        shift = np.clip(expected - current, -caps, caps)
        weight = _rim_ramp(inside, config.ramp * hole.shape[0])[inside]
        ycc += weight[:, None] * shift
    out = filled.copy()
    out[inside] = np.clip(from_ycc(ycc) / 255.0, 0.0, 1.0).astype(filled.dtype)
    return out


class ColourTrue:
    """A fill whose output :func:`true_colour` corrects; every other attribute is the wrapped fill's.

    Rule 2 (colour photos) runs only for fills that follow I_R (``needs_render``, or G's ``uses_prior``):
    it corrects toward the render's prediction, which a fill that never saw the render did not aim at.
    """

    def __init__(self, fill: Fill, config: ColourConfig = ColourConfig()) -> None:
        self.fill, self.config = fill, config
        self.name, self.label, self.needs_render = fill.name, fill.label, fill.needs_render

    def __getattr__(self, name: str) -> object:  # uses_prior, inpainter, ... of the wrapped fill
        return getattr(self.fill, name)

    def describe(self, batch: FaceBatch) -> str:
        return self.fill.describe(batch)

    def __call__(self, batch: FaceBatch) -> torch.Tensor:
        """(B, 3, N, N) in [0, 1], the wrapped fill's output with the photo's colours."""
        filled = self.fill(batch)
        if batch.occlusion is None:
            return filled
        images = filled.permute(0, 2, 3, 1).numpy()
        follows_render = self.fill.needs_render or bool(getattr(self.fill, "uses_prior", False))
        renders = batch.render if batch.render is not None and follows_render else [None] * len(batch)
        valids = batch.valid if batch.valid is not None else [None] * len(batch)
        skins = batch.skin if batch.skin is not None else [None] * len(batch)
        out = np.stack([true_colour(f, c, h, r, ir, v, self.config, s) for f, c, h, r, ir, v, s
                        in zip(images, batch.crops, batch.occlusion, batch.region, renders, valids, skins)])
        return _to_tensor(out)


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, N, N, 3) float in [0, 1] -> (B, 3, N, N) float32."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))

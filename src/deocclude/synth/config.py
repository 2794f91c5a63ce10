"""Configuration of occlusion synthesis (frozen dataclasses; the CLI maps onto them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CATEGORIES = ("mask", "eyewear", "hand", "cup", "microphone", "phone", "hat", "scarf_cloth",
              "food", "object", "hair", "blob", "surgical_mask", "kn95_mask", "thin_glasses")
# Realistic masks and glasses after real photos (synth.facemask, synth.glasses; issue 17): opt-in.
REALISTIC_CATEGORIES = ("surgical_mask", "kn95_mask", "thin_glasses")
# What a SynthConfig draws unless told: every category but the realistic ones, so the training and
# validation draws of S and G and every set built on the default stay what they were.
DEFAULT_CATEGORIES = tuple(c for c in CATEGORIES if c not in REALISTIC_CATEGORIES)
# Categories that have a procedural source and therefore work without the occluder bank.
PROCEDURAL_CATEGORIES = ("mask", "eyewear", "scarf_cloth", "hair", "blob") + REALISTIC_CATEGORIES


@dataclass(frozen=True)
class EyewearConfig:
    """Procedural glasses: which lens kinds and how opaque."""

    p_bank: float = 0.15  # use one of the bank's eyewear images instead of drawing
    # probabilities of clear / tinted / dark lenses
    lens_weights: tuple[float, float, float] = (0.35, 0.25, 0.4)
    tinted_opacity: tuple[float, float] = (0.2, 0.6)
    dark_opacity: tuple[float, float] = (0.6, 1.0)


@dataclass(frozen=True)
class SynthConfig:
    """What to draw and how much to vary it.

    ``weights`` are the relative probabilities of ``categories`` when no category is asked
    for. Paths default to the shared data folder (``$DEOCCLUDE_DATA``); ``None`` there or a
    missing folder means "procedural only" (bank-only categories are then unavailable).
    """

    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    weights: tuple[float, ...] | None = None
    occluder_root: Path | None = field(default=None)
    texture_root: Path | None = field(default=None)
    hair_root: Path | None = field(default=None)  # a UTKFace folder: real hair donors
    use_shared_data: bool = True  # fill the None paths above from $DEOCCLUDE_DATA
    max_side: int = 256  # bank sprites are kept at most this large
    p_retexture_mask: float = 0.9
    p_retexture_other: float = 0.1
    p_procedural_texture: float = 0.5  # when re-texturing: procedural vs texture bank
    p_real_hair: float = 0.5
    scale_jitter: float = 0.15  # relative, on top of the category's own size range
    max_shear: float = 0.15
    p_flip: float = 0.5
    colour_jitter: float = 1.0
    alpha_blur: tuple[float, float] = (0.0, 0.8)  # sigma of the alpha-edge blur, in px at IOD=40
    eyewear: EyewearConfig = EyewearConfig()

    def __post_init__(self) -> None:
        unknown = [c for c in self.categories if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown occluder categories {unknown}; known: {', '.join(CATEGORIES)}")
        if self.weights is not None and len(self.weights) != len(self.categories):
            raise ValueError("weights must have one entry per category")


def weighted_config(weights: tuple[float, ...] = ()) -> SynthConfig:
    """The config a training run draws with, from its per-category ``occluder_weights`` (S and G).

    ``()``: the default (:data:`DEFAULT_CATEGORIES`, equal weights). One weight per
    :data:`DEFAULT_CATEGORIES` entry: those categories (runs configured before the realistic kinds
    keep their draws). One weight per :data:`CATEGORIES` entry: all of them, in that order.
    """
    weights = tuple(float(w) for w in weights)
    if not weights:
        return SynthConfig()
    for cats in (DEFAULT_CATEGORIES, CATEGORIES):
        if len(weights) == len(cats):
            return SynthConfig(categories=cats, weights=weights)
    raise ValueError(f"occluder_weights needs one weight per category: {len(DEFAULT_CATEGORIES)} "
                     f"({', '.join(DEFAULT_CATEGORIES)}) or {len(CATEGORIES)} (those, then "
                     f"{', '.join(REALISTIC_CATEGORIES)}), got {len(weights)}")

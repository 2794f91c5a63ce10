"""Configs of G (no torch import: the CLI builds its flags from these without loading torch).

Defaults follow docs/method.md §5; values the paper lost are ours and marked so.
"""

from __future__ import annotations

from dataclasses import dataclass

from deocclude.errors import DeoccludeError
from deocclude.train.config import TrainConfig

HOLE_SHAPES = ("pipeline", "paper")


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of the gated encoder–decoder.

    ``widths[0]`` is the full-resolution stem; each further width is one stride-2 level,
    so the bottleneck is at N / 2**(len(widths) - 1) and inputs are padded to that multiple.
    Defaults: ~1.8 M parameters (2.1 GFLOP per 128 px face), ~3.6 MB in fp16, trainable at
    N = 128 on a (shared) 2-core CPU; GPU runs can widen it from the flags (e.g. ``--generator.widths 32 64 128 256``).
    """

    in_channels: int = 7  # M_O (1) + I_N (3) + I_R (3)
    out_channels: int = 3
    widths: tuple[int, ...] = (12, 24, 48, 96)
    stem_kernel: int = 5
    residual_from_level: int = (
        2  # levels below this (full and half resolution) get no residual block: they dominate the cost
    )
    bottleneck_blocks: int = 3  # gated residual blocks at the bottleneck
    bottleneck_dilations: tuple[int, ...] = (1, 2, 4)  # one per bottleneck block: receptive field for large holes
    attention_after: int = 2  # SAGAN self-attention after this many bottleneck blocks
    attention_reduction: int = 8  # query/key channels = width / reduction (SAGAN)
    skip_connections: bool = True  # U-Net skips carry the visible pixels' detail to the decoder

    def __post_init__(self) -> None:
        if len(self.widths) < 2:
            raise ValueError("the generator needs a stem and at least one stride-2 level")
        if len(self.bottleneck_dilations) != self.bottleneck_blocks:
            raise ValueError("bottleneck_dilations needs one entry per bottleneck block")
        if not 0 <= self.attention_after <= self.bottleneck_blocks:
            raise ValueError("attention_after must be between 0 and bottleneck_blocks")

    @property
    def multiple(self) -> int:
        return 2 ** (len(self.widths) - 1)


@dataclass(frozen=True)
class DiscriminatorConfig:
    """VGG-shaped stack: per stage two 3x3 convs, the second with stride 2, then a linear logit."""

    in_channels: int = 3
    widths: tuple[int, ...] = (16, 32, 64, 128)
    spectral_norm: bool = True  # stabilises the GAN at no cost (ours)


ID_NETWORKS = ("arcface", "dlib")


@dataclass(frozen=True)
class InpaintLossConfig:
    """Weights of eq. 15 (paper's lost; ours: 10, 5, 10, 1, 0.1, 0.1), our hole term, and mask erosions."""

    face: float = 10.0
    hole: float = 10.0  # ours: L1 on the synthetic hole ∩ face alone. L_face averages over the whole face, so a
    # 20 % hole got a fifth of its weight and the first CPU G learned to pass the hole's noise through
    ssim: float = 5.0
    bg: float = 10.0
    id: float = 1.0
    tv: float = 0.1
    adv: float = 0.1
    ssim_window: int = 11
    ssim_ohem_fraction: float = 0.5  # OHEM: keep this share of the hardest pixels of the region (ours)
    ssim_ohem_min_kept: int = 64
    erode_occlusion: int = 3  # kernel (px at N=128) eroding the original occlusion for L_ssim
    erode_background: int = 5  # kernel eroding 1 - M_R for L_bg
    id_every: int = 4  # compute L_id (and L_feat) every k steps (ours: the identity net costs about as much as G
    # on a CPU with dlib; ArcFace costs a tenth of that)
    id_network: str = "arcface"  # φ of L_id: "arcface" (faceplugin, unrelated faces at cosine ≈ 0) or "dlib"
    # (unrelated faces at 0.83-0.87: little signal; legs 0-2 of G used it)
    feature: float = 0.0  # ours: L_feat, L1 between ArcFace feature maps of Î_out and the clean face

    def __post_init__(self) -> None:
        if self.id_network not in ID_NETWORKS:
            raise DeoccludeError(f"loss.id_network must be one of {', '.join(ID_NETWORKS)}, got {self.id_network!r}")


@dataclass(frozen=True)
class InpaintTrainConfig(TrainConfig):
    """``deocclude train inpaint``: the loop's fields plus G's model, losses, data and ablations."""

    out: str = "runs/inpaint"
    size: int = 128
    batch_size: int = 4  # paper: 4
    lr: float = 2e-4  # ours (paper lost it)
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # docs/method.md §6 (ours where the text lost them)
    lr_drop_factor: float = 0.1  # paper: x0.1 halfway for G
    generator: GeneratorConfig = GeneratorConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    loss: InpaintLossConfig = InpaintLossConfig()
    prior: str = "r"  # where I_R and M_R come from: "r" (the bundled R's renders of each clean face, cached),
    # "zeros" (no render; M_R = the landmark mesh) or a folder of cached renders (prior.CachedRenders)
    no_prior: bool = False  # ablation: G's I_R input = zeros (M_R and the L_ssim target I_P unchanged)
    no_ssim_loss: bool = False  # ablation: lambda_ssim = 0
    min_visible_ratio: float = 0.7  # train faces below are mostly hair-net label errors (data README)
    real_min_visible_ratio: float = 0.95  # D's real images: faces with little real occlusion (eq. 16)
    clean_fraction: float = 0.05  # share of training samples without a synthetic occluder
    occluder_weights: tuple[float, ...] = ()
    """Relative draw probability of each synthetic occluder category of the training samples, read as S's
    (segment.config.SegmentTrainConfig.occluder_weights): empty = the default 12, equal; 15 weights add
    surgical_mask kn95_mask thin_glasses. Validation always draws the default 12 (comparable runs)."""
    train_limit: int = 0  # first N train faces only (0 = all); smoke tests
    val_limit: int = 32  # validate on the first N val faces
    val_every_minutes: float = 15.0
    val_seed: int = 20261125
    poisson_cache: str = ""  # folder for the cached I_P targets ("" = <cache>/inpaint_poisson_<prior>)
    hole: str = "paper"  # "paper": raw M_R ⊙ (1 − M_F') (the bundled G and its ablations); "pipeline": shaped like
    # run's M_O (masks/occlusion.py: opened, bare outline band dropped, grown 4 px). A fine-tune of the bundled G
    # with "pipeline" + carry_prior scored worse, and so did a run from scratch at the bundled recipe (mixed, auto
    # mask: L1 0.082 vs 0.079, SSIM 0.610 vs 0.650; MODEL_CARD.md), so the paper's hole stays the default
    carry_prior: bool = False  # I_R's black background carried outwards (inpaint/guidance.py), as run feeds G

    def __post_init__(self) -> None:
        if self.hole not in HOLE_SHAPES:
            raise DeoccludeError(f"--hole must be one of {', '.join(HOLE_SHAPES)}, got {self.hole!r}")

    @property
    def feeds_prior(self) -> bool:
        """G gets a real I_R as input (not the "no I_R" ablation, and a prior that renders)."""
        return not self.no_prior and self.prior not in ("", "zeros", "none")

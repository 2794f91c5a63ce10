"""Configs of S (no torch import: the CLI builds its flags from these without loading torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from deocclude.nets.config import ResNetEncoderConfig
from deocclude.train.config import TrainConfig


@dataclass(frozen=True)
class UNetConfig:
    """Shape of the network. Defaults: ResNet-18 layout at half width (the bundled model).

    The encoder fields stay flat here (not a nested :class:`ResNetEncoderConfig`) because they
    are the JSON stored in the bundled weights and the ``--model.stem-width`` style flags;
    :attr:`encoder` hands them to the shared encoder.
    """

    in_channels: int = 3
    stem_width: int = 32  # ResNet-18: 64
    stage_widths: tuple[int, ...] = (32, 64, 128, 256)  # ResNet-18: (64, 128, 256, 512)
    blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2)  # ResNet-18 BasicBlock counts
    decoder_widths: tuple[int, ...] = (128, 64, 32, 16, 16)  # smp default: (256, 128, 64, 32, 16)
    out_channels: int = 1  # 1: the old binary S ("visible face" logit); 3: the parser [face, hair, other]

    def __post_init__(self) -> None:
        self.encoder  # noqa: B018 - validates the encoder fields now, not when the net is built
        if len(self.decoder_widths) != 5:
            raise ValueError("the decoder has one block per encoder stage (5)")

    @property
    def encoder(self) -> ResNetEncoderConfig:
        """The encoder's part of this config."""
        return ResNetEncoderConfig(
            self.in_channels, self.stem_width, tuple(self.stage_widths), tuple(self.blocks_per_stage)
        )


FULL_RESNET18 = UNetConfig(stem_width=64, stage_widths=(64, 128, 256, 512), decoder_widths=(256, 128, 64, 32, 16))
SLIM = UNetConfig()


@dataclass(frozen=True)
class SegmentLossConfig:
    ohem_fraction: float = 0.25  # keep the hardest 25% of pixels per image (ours)
    ohem_min_kept: int = 256  # ... but at least this many pixels
    ohem_threshold: float = -math.log(0.7)  # ... and every pixel whose BCE exceeds this (p_true < 0.7)
    dice_eps: float = 1.0
    dice_weight: float = 1.0
    bce_weight: float = 1.0  # weight of the OHEM pixel term (BCE for the binary S, softmax CE for the parser)


@dataclass(frozen=True)
class SegmentTrainConfig(TrainConfig):
    """``deocclude train segment``: the loop's fields plus S's model, loss and data."""

    out: str = "runs/segment"
    size: int = 128  # aligned crop size N (docs/design.md §5: 128 on CPU, 256 takes the same config)
    model: UNetConfig = UNetConfig(out_channels=3)  # the parser (segment.classes.CLASSES)
    loss: SegmentLossConfig = SegmentLossConfig()
    clean_fraction: float = 0.15  # share of training samples shown without a synthetic occluder
    occluder_weights: tuple[float, ...] = ()
    """Relative draw probability of each synthetic occluder category, in deocclude.synth.config.CATEGORIES
    order (mask eyewear hand cup microphone phone hat scarf_cloth food object hair blob, then optionally
    surgical_mask kn95_mask thin_glasses: 12 weights = without them, 15 = with them); empty = the 12, equal.
    The parser called black frames hair (real glasses in UTKFace carry face / hair pseudo-labels), so its
    fine-tune draws eyewear 4× as often. Validation always draws the default 12 (comparable runs)."""
    photometric: float = 0.0
    """Strength of the whole-image light jitter (segment.data.photometric_jitter: colour cast, exposure,
    gamma, grey); 0 = off (the first parser), 1 = the parser2 fine-tune."""
    min_visible_ratio: float = 0.7  # ignore train faces whose pseudo-label removed more (mostly hair-net errors)
    train_split: str = "train"  # the UTKFace split to train on (tests use "val": its cache is small)
    train_limit: int = 0  # use only the first N train faces (0 = all); for smoke tests
    val_limit: int = 0  # validate on the first N val faces (0 = all 500)
    val_seed: int = 20261125  # seed of the held-out occluders drawn on val faces (fixed: comparable runs)
    hard_examples: str = ""  # round 2: JSON {face name: disagreement} from `python -m deocclude.segment.mining`
    hard_fraction: float = 0.2  # the top fraction of those faces counts as hard
    hard_repeat: int = 3  # ... and appears this many times per epoch

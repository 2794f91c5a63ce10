"""The ResNet encoder's own config (no torch import: the CLI's flag builder reads configs)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResNetEncoderConfig:
    """Shape of the ResNet-18-layout encoder. Defaults: half width, the layout of the bundled S and R.

    Full ResNet-18 is ``stem_width=64, stage_widths=(64, 128, 256, 512)`` (11.2 M encoder
    parameters); half width keeps S and R under the 25 MB budget for bundled weights and lets
    R start from S's trained encoder.
    """

    in_channels: int = 3
    stem_width: int = 32  # ResNet-18: 64
    stage_widths: tuple[int, ...] = (32, 64, 128, 256)  # ResNet-18: (64, 128, 256, 512)
    blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2)  # ResNet-18 BasicBlock counts

    def __post_init__(self) -> None:
        if len(self.stage_widths) != 4 or len(self.blocks_per_stage) != 4:
            raise ValueError("the ResNet encoder has exactly 4 residual stages")

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of the features at strides 1 (the input), 2, 4, 8, 16, 32."""
        return (self.in_channels, self.stem_width, *self.stage_widths)

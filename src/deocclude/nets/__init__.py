"""Building blocks shared by several networks (S and R today), importable without torch.

S (:mod:`deocclude.segment.model`) and R (:mod:`deocclude.reconstruct.regressor`) sit side
by side on the same ResNet encoder (:mod:`deocclude.nets.resnet`), each configured through
:class:`~deocclude.nets.config.ResNetEncoderConfig` rather than through the other's config.
This package imports no torch at import time, so config modules (which the CLI reads to build
its flags) can depend on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Number of scalars in ``module``'s parameters (buffers such as BN statistics excluded):
    the figure the model card and the 25 MB budget for bundled weights are stated in."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["count_parameters"]

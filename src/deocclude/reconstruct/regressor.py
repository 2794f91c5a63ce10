"""R's network (docs/method.md §4): a ResNet-18-layout encoder regressing the 257 numbers of x.

The encoder is the one S uses too (:class:`deocclude.nets.resnet.ResNetEncoder`), so the
project has one ResNet; R adds a global average pool and one linear layer. The paper uses a ResNet-50;
bundled weights must stay under 25 MB and train on a 2-core CPU, so ours has the ResNet-18
layout; the bundled R uses S's half width (2.9 M parameters, 5.8 MB in fp16) so that it
can start from S's trained encoder; full width (11.3 M, 22.6 MB) is one config change.

Why the output scale: the layer's raw outputs are O(1) at initialisation, but the fields
of x live on very different scales (a few hundredths of a radian of roll, several std-devs
of the first shape components). Multiplying by a per-coefficient ``scale`` (the spread of
the teacher's x* over the training faces, stored with the weights) lets one learning rate
suit every field. The last layer is zero-initialised, so before training the prediction is
x = 0: the mean face, frontal, in the canonical framing, under the default light.
"""

from __future__ import annotations

import torch
from torch import nn

from deocclude.nets.resnet import ResNetEncoder
from deocclude.reconstruct.regressor_config import RegressorConfig


class Regressor(nn.Module):
    """Aligned face crops (B, 3, N, N) in [0, 1] -> coefficients x (B, 257).

    Inputs are centred inside exactly like S's U-Net does ((x - 0.5) / 0.25), so callers
    pass plain [0, 1] images and S's trained encoder is a valid starting point. Any N
    that is a multiple of 32 works (global pooling).
    """

    def __init__(self, config: RegressorConfig = RegressorConfig(), scale: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = ResNetEncoder(config.encoder)
        self.head = nn.Linear(config.stage_widths[-1], config.n_coefficients)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("scale", torch.ones(config.n_coefficients) if scale is None else scale.float().clone())

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C) globally pooled features of the last stage."""
        x = (images - 0.5) / 0.25
        return self.encoder(x)[-1].mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)) * self.scale


__all__ = ["RegressorConfig", "Regressor"]

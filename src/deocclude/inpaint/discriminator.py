"""G's discriminator: a VGG-shaped conv stack → one real/fake logit (docs/method.md §5).

Per stage two 3x3 convolutions (the second with stride 2) and LeakyReLU, then global
average pooling and a linear layer, so it takes any input size. Spectral normalisation
(ours) keeps its Lipschitz constant in check, which matters with a tiny batch of 4.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from deocclude.inpaint.config import DiscriminatorConfig


class Discriminator(nn.Module):
    """(B, 3, H, W) image in [-1, 1] → (B,) logit of "real"."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.config = config
        norm = spectral_norm if config.spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        cin = config.in_channels
        for width in config.widths:
            layers += [norm(nn.Conv2d(cin, width, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True),
                       norm(nn.Conv2d(width, width, 3, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = width
        self.features = nn.Sequential(*layers)
        self.head = norm(nn.Linear(cin, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3))).squeeze(1)

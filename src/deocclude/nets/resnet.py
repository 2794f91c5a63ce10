"""The ResNet-18-layout encoder shared by S (U-Net encoder) and R (regressor backbone).

Written in plain PyTorch because torchvision and timm are not usable here. The module and
parameter names (``stem``, ``pool``, ``layers.<i>.<j>.conv1`` ...) are those of the bundled
S and R weights files: renaming anything here breaks loading them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deocclude.nets.config import ResNetEncoderConfig

HALF_WIDTH = ResNetEncoderConfig()  # the bundled S's and R's encoder


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv (no bias: the BN that follows has one) + BN + ReLU, the unit of the stem and of S's decoder."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet BasicBlock: two 3×3 convs and an identity (or 1×1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.downsample(x), inplace=True)


class ResNetEncoder(nn.Module):
    """Five stages: stem (conv7/2) then maxpool + layer1, layer2/2, layer3/2, layer4/2.

    Returns every stage's features (smp's encoder contract) so that a U-Net can take its skips
    and a regressor can pool the last one.
    """

    def __init__(self, config: ResNetEncoderConfig = HALF_WIDTH) -> None:
        super().__init__()
        self.config = config
        self.stem = conv_bn_relu(config.in_channels, config.stem_width, kernel=7, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        layers = []
        cin = config.stem_width
        for i, (width, blocks) in enumerate(zip(config.stage_widths, config.blocks_per_stage)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(cin, width, stride)] + [BasicBlock(width, width) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*stage))
            cin = width
        self.layers = nn.ModuleList(layers)
        self.out_channels = config.out_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features at strides 1 (the input), 2, 4, 8, 16, 32."""
        feats = [x]
        x = self.stem(x)
        feats.append(x)
        x = self.pool(x)
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats

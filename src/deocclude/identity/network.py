"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in plain PyTorch.

The network (dlib's ``dnn_face_recognition_ex.cpp``): a 7×7/2 convolution and 3×3/2 max
pool, then residual stages of 32, 64, 128, 256 and 256 channels (3, 4, 3, 3 and 1 blocks;
the first block of every stage after the first halves the resolution), global average
pooling and a bias-free 128-D linear layer. Batch norms were folded into per-channel
affine layers by dlib. Three dlib details matter for exact parity and are reproduced:

* strided convolutions and pools use *no* padding (dlib's default when stride ≠ 1), so
  150 → 72 → 35 → 17 → 8 → 3/4 → 1/2;
* the shortcut of a down-sampling block is a 2×2/2 average pool of its input, and the two
  branches are added with dlib's ``add_prev`` rule: the result has the larger of both
  shapes and the smaller tensor is zero-padded at the end (more channels; at the 8 → 3/4
  and 4 → 1/2 steps the two branches even differ spatially);
* the input is RGB in 0–255 minus a per-channel mean, divided by 256.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 150
"""Side of the square face chip the network was trained on."""
EMBEDDING_DIM = 128


@dataclass(frozen=True)
class ResNetConfig:
    """Stage layout: (channels, number of blocks); every stage but the first starts with a stride-2 block."""

    stem_channels: int = 32
    stages: tuple[tuple[int, int], ...] = ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1))
    embedding_dim: int = EMBEDDING_DIM
    mean_rgb: tuple[float, float, float] = (122.782, 117.001, 104.298)
    scale: float = 256.0


class Affine(nn.Module):
    """Per-channel ``x * gamma + beta`` (dlib's ``affine_`` layer: a frozen batch norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: sum over the larger shape, the smaller operand zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    target = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, target[2] - w, 0, target[1] - h, 0, target[0] - c))

    return pad(a) + pad(b)


class ResidualBlock(nn.Module):
    """conv-affine-relu-conv-affine plus shortcut, then relu (the shortcut is pooled when strided)."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1 if stride == 1 else 0)
        self.aff1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.aff2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.stride != 1 else x
        return F.relu(add_prev(y, shortcut))


class DlibFaceResNet(nn.Module):
    """128-D face descriptor; input (B, 3, 150, 150) RGB float in [0, 1] (see :meth:`forward`)."""

    mean: torch.Tensor  # buffer, registered in __init__

    def __init__(self, config: ResNetConfig = ResNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.conv = nn.Conv2d(3, config.stem_channels, 7, stride=2, padding=0)
        self.aff = Affine(config.stem_channels)
        blocks: list[ResidualBlock] = []
        channels = config.stem_channels
        for stage, (width, count) in enumerate(config.stages):
            for i in range(count):
                blocks.append(ResidualBlock(channels, width, 2 if (stage > 0 and i == 0) else 1))
                channels = width
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(channels, config.embedding_dim, bias=False)
        mean = torch.tensor(config.mean_rgb, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Descriptors (B, 128) of (B, 3, 150, 150) RGB chips with values in [0, 1].

        Unnormalised, like dlib's (dlib compares them by Euclidean distance < 0.6).
        """
        x = (images * 255.0 - self.mean) / self.config.scale
        x = F.max_pool2d(F.relu(self.aff(self.conv(x))), 3, 2)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))

"""G's generator: a gated-convolution encoder–decoder with SAGAN self-attention (docs/method.md §5).

Gated convolutions (Yu et al., DeepFill v2) learn a soft per-pixel, per-channel mask:
out = φ(conv_f x) ⊙ σ(conv_g x), so the network itself decides how much to trust each
pixel of an input that is part noise. Self-attention on the bottleneck lets a hole borrow
from far-away visible parts of the face (the other eye, the other cheek).

The network is fully convolutional; :meth:`Generator.forward` pads any H×W to a multiple
of the bottleneck stride (reflection) and crops back, so every size works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deocclude.inpaint.config import GeneratorConfig


class GatedConv(nn.Module):
    """out = ELU(conv_f x) ⊙ sigmoid(conv_g x); both halves come from one conv for speed."""

    def __init__(
        self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1, activation: bool = True
    ) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride=stride, padding=pad, dilation=dilation)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, g = self.conv(x).chunk(2, dim=1)
        return (F.elu(f) if self.activation else f) * torch.sigmoid(g)


class GatedResBlock(nn.Module):
    """x + gated(gated(x)) : the residual keeps the block near identity at initialisation."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.a = GatedConv(channels, channels, 3, dilation=dilation)
        self.b = GatedConv(channels, channels, 3, activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x))


class SelfAttention(nn.Module):
    """SAGAN block (Zhang et al. 2019): x + γ · attention(x), γ starts at 0."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.q = nn.Conv2d(channels, inner, 1)
        self.k = nn.Conv2d(channels, inner, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # (B, HW, c')
        k = self.k(x).flatten(2).transpose(1, 2)
        v = self.v(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        # SAGAN has no 1/sqrt(d) scaling; sdpa adds it, which only rescales the learned q/k
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.gamma * out.transpose(1, 2).reshape(b, c, h, w)


class Generator(nn.Module):
    """concat(M_O, I_N, I_R) (B, 7, H, W) in [-1, 1] (mask in [0, 1]) → Î (B, 3, H, W) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.stem = GatedConv(config.in_channels, w[0], config.stem_kernel)
        res = config.residual_from_level
        self.down = nn.ModuleList(
            nn.Sequential(GatedConv(w[i - 1], w[i], 3, stride=2), *([GatedResBlock(w[i])] if i >= res else []))
            for i in range(1, len(w))
        )
        blocks: list[nn.Module] = []
        for j, d in enumerate(config.bottleneck_dilations):
            if j == config.attention_after:
                blocks.append(SelfAttention(w[-1], config.attention_reduction))
            blocks.append(GatedResBlock(w[-1], d))
        if config.attention_after == config.bottleneck_blocks:
            blocks.append(SelfAttention(w[-1], config.attention_reduction))
        self.bottleneck = nn.Sequential(*blocks)
        skip = config.skip_connections
        self.up = nn.ModuleList(
            nn.Sequential(GatedConv(w[i] + (w[i - 1] if skip else 0), w[i - 1], 3),
                          *([GatedResBlock(w[i - 1])] if i - 1 >= res else []))
            for i in range(len(w) - 1, 0, -1)
        )
        self.head = nn.Conv2d(w[0], config.out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.config.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        feats = [self.stem(x)]
        for level in self.down:
            feats.append(level(feats[-1]))
        y = self.bottleneck(feats[-1])
        for i, level in enumerate(self.up):
            y = F.interpolate(y, scale_factor=2.0, mode="nearest")
            skip = feats[-2 - i]
            y = level(torch.cat([y, skip], 1) if self.config.skip_connections else y)
        return torch.tanh(self.head(y))[..., :h, :w]


def noisy_input(image: torch.Tensor, hole: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """I_N = I ⊙ (1 − M_O) + N(0, 1) ⊙ M_O, in [-1, 1] space (docs/method.md §1 step 4).

    ``generator`` (on the image's device) makes the noise reproducible, e.g. in evaluation.
    """
    noise = torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    return image * (1 - hole) + noise * hole


def generator_input(image: torch.Tensor, hole: torch.Tensor, prior: torch.Tensor | None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """concat(M_O, I_N, I_R) from ``image`` and ``prior`` in [0, 1] and ``hole`` (1 = occluded).

    ``prior=None`` ("no I_R", the ablation and the fallback without R) feeds zeros in the
    network's [-1, 1] space, the same constant the model was trained with in that case.
    """
    x = image * 2 - 1
    r = torch.zeros_like(x) if prior is None else prior * 2 - 1
    return torch.cat([hole, noisy_input(x, hole, generator), r], 1)


def composite(image: torch.Tensor, predicted: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Î_out = I ⊙ (1 − M_O) + Î ⊙ M_O: pixels outside the hole are the input's, exactly."""
    return torch.where(hole > 0, image * (1 - hole) + predicted * hole, image)

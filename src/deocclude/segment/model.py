"""U-Net with a ResNet-18-layout encoder for visible-face segmentation (docs/method.md §3).

The encoder is the shared :class:`deocclude.nets.resnet.ResNetEncoder` (R uses it too). The
encoder/decoder split follows segmentation_models_pytorch: the encoder returns one feature map
per stage (stride 1 = the input, 2, 4, 8, 16, 32), the decoder has one conv
block per stage that upsamples the previous block's output ×2 and concatenates the
symmetric encoder feature (skip connection). Written in plain PyTorch because torchvision
and timm are not usable here.

Widths are configurable: the bundled model uses the ResNet-18 layout at half width (see
:data:`SLIM`), because the full-width net (~14 M parameters, ~28 MB in fp16) does not fit
the 25 MB budget for bundled weights and trains ~3× slower on a 2-core CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deocclude.nets.resnet import ResNetEncoder, conv_bn_relu
from deocclude.segment.config import FULL_RESNET18, SLIM, UNetConfig

MULTIPLE = 32  # total stride of the encoder: inputs must be a multiple of this
__all__ = ["FULL_RESNET18", "SLIM", "UNetConfig", "UNet", "AnySize", "pad_to_multiple", "crop_padding"]


class DecoderBlock(nn.Module):
    """Upsample ×2, concatenate the skip feature (if any), two conv-BN-ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(cin + cskip, cout)
        self.conv2 = conv_bn_relu(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class UNetDecoder(nn.Module):
    """One block per encoder stage, deepest first; the last block (stride 1) has no skip.

    Like smp, the raw input is not used as a skip: its 3 colour channels would add little
    and make the full-resolution block the most expensive one.
    """

    def __init__(self, encoder_channels: tuple[int, ...], widths: tuple[int, ...]) -> None:
        super().__init__()
        skips = list(encoder_channels[1:-1][::-1]) + [0]  # stride 16, 8, 4, 2, then none
        cins = [encoder_channels[-1], *widths[:-1]]
        self.blocks = nn.ModuleList(DecoderBlock(ci, cs, co) for ci, cs, co in zip(cins, skips, widths))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        skips = feats[1:-1][::-1] + [None]
        x = feats[-1]
        for block, skip in zip(self.blocks, skips):
            x = block(x, skip)
        return x


class UNet(nn.Module):
    """ResNet-encoder U-Net. Input: (B,3,H,W) in [0,1], H and W multiples of 32. Output: logits (B,1,H,W)."""

    def __init__(self, config: UNetConfig = SLIM) -> None:
        super().__init__()
        self.config = config
        self.encoder = ResNetEncoder(config.encoder)
        self.decoder = UNetDecoder(self.encoder.out_channels, config.decoder_widths)
        self.head = nn.Conv2d(config.decoder_widths[-1], config.out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % MULTIPLE or w % MULTIPLE:
            raise ValueError(f"UNet input must be a multiple of {MULTIPLE} (got {h}×{w}); wrap it in AnySize")
        # Fixed centring instead of dataset statistics: inputs are [0,1] photos.
        x = (x - 0.5) / 0.25
        return self.head(self.decoder(self.encoder(x)))


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad H and W up to a multiple (reflect; replicate when the image is too small to reflect).

    Returns the padded tensor and the (left, right, top, bottom) padding, split evenly so the
    face stays centred and no border pixel is dropped.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if not any(pad):
        return x, pad
    mode = "reflect" if (max(pad[0], pad[1]) < w and max(pad[2], pad[3]) < h) else "replicate"
    return F.pad(x, pad, mode=mode), pad


def crop_padding(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`."""
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]


class AnySize(nn.Module):
    """Run a stride-32 network on any input size: pad to a multiple of 32, crop back."""

    def __init__(self, net: nn.Module, multiple: int = MULTIPLE) -> None:
        super().__init__()
        self.net = net
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded, pad = pad_to_multiple(x, self.multiple)
        return crop_padding(self.net(padded), pad)

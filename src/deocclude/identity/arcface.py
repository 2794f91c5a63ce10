"""An ArcFace-class face embedding (512-D, MobileFaceNet-like) in plain PyTorch.

Why: dlib-ResNet scores unrelated people at cosine 0.83-0.87, so identity numbers and
losses built on it carry little signal. This network (faceplugin ``fr_feature.onnx``, MIT)
puts unrelated faces near cosine 0. The module re-states the exported graph layer for
layer (BatchNorm already folded into the conv biases by the export), so the converted
weights (``tools/convert_faceplugin.py``) load with no ONNX at run time; unlike the ONNX
graph it takes any batch size and any device, and gradients flow to the input.

Input (B, 3, 112, 112) RGB in [0, 1], aligned to the 5-point ArcFace template
(:mod:`deocclude.identity.arcface_align`); output (B, 512), not normalised.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deocclude.errors import DeoccludeError
from deocclude.model_file import NetworkFile
from deocclude.paths import WEIGHTS_DIR

ARCFACE_DIM = 512
ARCFACE_SIZE = 112
ARCFACE_BUNDLED = WEIGHTS_DIR / "identity_arcface_faceplugin.safetensors"

STAGES = ((64, 64, 128, 128, 4), (64, 128, 256, 256, 6), (128, 128, 512, 256, 2))
"""(in, out, first-block expansion, residual-block expansion, residual blocks) per stride-2 stage,
read off the ONNX graph."""


class Bottleneck(nn.Module):
    """1×1 expand + PReLU, 3×3 depthwise (stride) + PReLU, linear 1×1 project; residual when shapes match."""

    def __init__(self, cin: int, cout: int, expand: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.expand = nn.Conv2d(cin, expand, 1)
        self.act1 = nn.PReLU(expand)
        self.depthwise = nn.Conv2d(expand, expand, 3, stride, 1, groups=expand)
        self.act2 = nn.PReLU(expand)
        self.project = nn.Conv2d(expand, cout, 1)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, cin, H, W) -> (B, cout, H / stride, W / stride)."""
        y = self.project(self.act2(self.depthwise(self.act1(self.expand(x)))))
        return x + y if self.residual else y


class ArcFaceMobile(nn.Module):
    """faceplugin's ``fr_feature`` network; conv and PReLU modules are registered in graph order
    (the converter relies on it)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, 2, 1)
        self.stem_act = nn.PReLU(64)
        self.stem_dw = nn.Conv2d(64, 64, 3, 1, 1, groups=64)
        self.stem_dw_act = nn.PReLU(64)
        blocks: list[nn.Module] = []
        for cin, cout, first, expand, repeats in STAGES:
            blocks.append(Bottleneck(cin, cout, first, 2, residual=False))
            blocks += [Bottleneck(cout, cout, expand, 1, residual=True) for _ in range(repeats)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(128, 512, 1)
        self.head_act = nn.PReLU(512)
        self.gdc = nn.Conv2d(512, 512, 7, groups=512)  # global depthwise conv over the 7×7 map
        self.embed = nn.Conv2d(512, ARCFACE_DIM, 1)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        """(B, 3, 112, 112) RGB in [0, 1] -> (B, 512) embeddings (the graph's own (p - 127) / 128 input scaling)."""
        return self.embedding(self.feature_maps(chips)[-1])

    def embedding(self, last_map: torch.Tensor) -> torch.Tensor:
        """(B, 128, 7, 7) last map of :meth:`feature_maps` -> (B, 512): a loss that wants both the maps and
        the embedding runs the network once."""
        return self.embed(self.gdc(self.head_act(self.head(last_map)))).flatten(1)

    def feature_maps(self, chips: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, 112, 112) chips -> the maps after the stem and after each stride-2 stage:
        (B, 64, 56, 56), (B, 64, 28, 28), (B, 128, 14, 14), (B, 128, 7, 7).

        Why: a face network's features are the only perceptual features we have offline (no
        ImageNet VGG here); G's perceptual loss compares them (:mod:`deocclude.inpaint.losses`).
        """
        if chips.shape[-3:] != (3, ARCFACE_SIZE, ARCFACE_SIZE):
            raise DeoccludeError(f"ArcFaceMobile: expected (B, 3, 112, 112) chips, got {tuple(chips.shape)}")
        x = (chips * 255.0 - 127.0) / 128.0
        x = self.stem_dw_act(self.stem_dw(self.stem_act(self.stem(x))))
        maps = [x]
        for block in self.blocks:
            if not block.residual and x is not maps[-1]:  # a stage's first block: the previous stage ends here
                maps.append(x)
            x = block(x)
        maps.append(x)
        return maps


# converted from ONNX, not trained: one fixed architecture (no config) and its source in the metadata
ARCFACE_FILE: NetworkFile[ArcFaceMobile] = NetworkFile("ArcFace", None, ArcFaceMobile, None, ARCFACE_BUNDLED)


def load_arcface(
    path: str | Path | None = None, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> ArcFaceMobile:
    """The network in eval mode with frozen weights (gradients still reach the input).

    ``path``: a safetensors file written by ``tools/convert_faceplugin.py``; default the bundled fp16 file.
    """
    path = Path(path) if path is not None else ARCFACE_BUNDLED
    if not path.is_file():
        raise DeoccludeError(f"ArcFace weights not found: {path} (run tools/convert_faceplugin.py)")
    network, _ = ARCFACE_FILE.load(path)
    network.requires_grad_(False)
    return network.to(device=device, dtype=dtype)

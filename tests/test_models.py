"""One tester for every network (kornia / smp style): S, R, G, D and both identity nets.

Each :class:`ModelSpec` says how to build the network, what it takes and what it returns;
the same tests then run over all of them:

- forward at every input size the network claims (the fully convolutional S, R, G and D at
  128 and 256; the identity nets at their fixed chip size), with the documented output shape;
- backward: every parameter gets a finite gradient, and some gradient is non-zero (R's head
  and G's attention gates start at zero on purpose, so "every gradient non-zero" would be wrong);
- save / load round trip through the one model-file API (:class:`deocclude.model_file.NetworkFile`;
  D ships in no file, so it gets one made here): bit-identical outputs in float32;
- dtype: a bfloat16 forward under CPU autocast stays finite and close to float32, for the
  networks the project runs that way (S, R, G through :mod:`deocclude.precision`, D in
  ``--fast-cpu`` training); the identity nets run in float32 (fp16 on CUDA) only.
- device: on a machine with CUDA, the same outputs there as on the CPU (skipped elsewhere).

S, R, G and D use narrow configs of the same code (the shipped widths make one backward at
256 px cost seconds on a shared 2-core CPU); the identity nets have one fixed architecture.
Batches are of one or two crops, so the file runs in under 30 s on one core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from deocclude.identity.arcface import ARCFACE_DIM, ARCFACE_FILE, ARCFACE_SIZE, ArcFaceMobile
from deocclude.identity.network import DlibFaceResNet
from deocclude.identity.weights import DLIB_RESNET_FILE
from deocclude.inpaint.api import G_FILE
from deocclude.inpaint.config import DiscriminatorConfig, GeneratorConfig
from deocclude.inpaint.discriminator import Discriminator
from deocclude.inpaint.generator import Generator
from deocclude.model_file import NetworkFile
from deocclude.reconstruct.inference import R_FILE
from deocclude.reconstruct.regressor import Regressor
from deocclude.reconstruct.regressor_config import RegressorConfig
from deocclude.segment.config import UNetConfig
from deocclude.segment.inference import S_FILE
from deocclude.segment.model import UNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small convolutions: one thread beats two on a busy CPU
DLIB_CHIP, DLIB_DIM = 150, 128
NARROW_S = UNetConfig(
    stem_width=8,
    stage_widths=(8, 8, 16, 16),
    blocks_per_stage=(1, 1, 1, 1),
    decoder_widths=(16, 8, 8, 8, 8),
    out_channels=3,
)
NARROW_R = RegressorConfig(stem_width=8, stage_widths=(8, 16, 16, 32))
NARROW_G = GeneratorConfig(widths=(8, 8, 16), bottleneck_blocks=2, bottleneck_dilations=(1, 2), attention_after=1)
NARROW_D = DiscriminatorConfig(widths=(8, 16))
D_FILE: NetworkFile[Discriminator] = NetworkFile("discriminator", "deocclude.test.discriminator/1", Discriminator,
                                                 DiscriminatorConfig, Path("unused"))


@dataclass(frozen=True)
class ModelSpec:
    """One network under test: ``build()``, its input channels and sizes, and ``output_shape(batch, size)``."""

    name: str
    build: Callable[[], nn.Module]
    in_channels: int
    sizes: tuple[int, ...]
    output_shape: Callable[[int, int], tuple[int, ...]]
    network_file: NetworkFile
    bf16: bool = True  # the project runs it under bf16 autocast (deocclude.precision)
    bf16_tolerance: float = 0.1  # relative L2 error of the bf16-autocast output against float32


SPECS = (
    # S, the [face, hair, other] parser: (B, 3, H, W) in [0, 1] -> logits (B, 3, H, W)
    ModelSpec("S", lambda: UNet(NARROW_S), 3, (128, 256), lambda b, n: (b, 3, n, n), S_FILE),
    # R: (B, 3, N, N) in [0, 1] -> x (B, 257); global pooling, so any multiple of 32
    ModelSpec(
        "R", lambda: Regressor(NARROW_R, scale=torch.rand(257) + 0.5), 3, (128, 256), lambda b, n: (b, 257), R_FILE
    ),
    # G: concat(M_O, I_N, I_R) (B, 7, H, W) -> Î (B, 3, H, W) in [-1, 1]
    ModelSpec("G", lambda: Generator(NARROW_G), 7, (128, 256), lambda b, n: (b, 3, n, n), G_FILE),
    # D: (B, 3, H, W) in [-1, 1] -> (B,) logit of "real"
    ModelSpec("D", lambda: Discriminator(NARROW_D), 3, (128, 256), lambda b, n: (b,), D_FILE),
    # dlib-ResNet: (B, 3, 150, 150) chip in [0, 1] -> descriptor (B, 128)
    ModelSpec(
        "identity-dlib", DlibFaceResNet, 3, (DLIB_CHIP,), lambda b, n: (b, DLIB_DIM), DLIB_RESNET_FILE, bf16=False
    ),
    # ArcFace (MobileFaceNet-like): (B, 3, 112, 112) in [0, 1] -> embedding (B, 512)
    ModelSpec(
        "identity-arcface", ArcFaceMobile, 3, (ARCFACE_SIZE,), lambda b, n: (b, ARCFACE_DIM), ARCFACE_FILE, bf16=False
    ),
)
SIZED = [(spec, size) for spec in SPECS for size in spec.sizes]


def _seeded(spec: ModelSpec) -> nn.Module:
    torch.manual_seed(0)
    return spec.build()


def _input(spec: ModelSpec, batch: int, size: int) -> torch.Tensor:
    return torch.rand(batch, spec.in_channels, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(("spec", "size"), SIZED, ids=[f"{s.name}-{n}" for s, n in SIZED])
def test_forward_backward_at_each_claimed_size(spec: ModelSpec, size: int) -> None:
    net = _seeded(spec).train()
    x = _input(spec, 1, size).requires_grad_(True)
    out = net(x)
    assert tuple(out.shape) == spec.output_shape(1, size) and out.dtype == torch.float32
    # a random projection, not out², whose gradient vanishes where the output starts at 0 (R's zero head)
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_save_load_round_trip_through_the_model_file(spec: ModelSpec, tmp_path: Path) -> None:
    net = _seeded(spec).eval()
    x = _input(spec, 1, spec.sizes[0])
    path = spec.network_file.save(net, tmp_path / f"{spec.name}.safetensors", spec.sizes[0], half=False)
    loaded, info = spec.network_file.load(path)
    assert sorted(loaded.state_dict()) == sorted(net.state_dict())
    assert info.size == spec.sizes[0] and not loaded.training
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.bf16], ids=[s.name for s in SPECS if s.bf16])
def test_bfloat16_autocast_forward_on_cpu(spec: ModelSpec) -> None:
    net = _seeded(spec).eval()
    x = _input(spec, 1, spec.sizes[0])
    with torch.no_grad():
        reference = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x)
    assert low.shape == reference.shape and torch.isfinite(low).all()
    error = (low.float() - reference).norm() / reference.norm().clamp_min(1e-6)
    assert error < spec.bf16_tolerance, f"{spec.name}: bf16 relative error {error:.3f}"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_cuda_forward_matches_cpu(spec: ModelSpec) -> None:
    """The same weights give the same outputs on CUDA (TF32 convolutions allowed: a loose tolerance)."""
    net = _seeded(spec).eval()
    x = _input(spec, 1, spec.sizes[0])
    with torch.no_grad():
        reference = net(x)
        on_cuda = net.cuda()(x.cuda()).cpu()
    assert on_cuda.shape == reference.shape
    assert (on_cuda - reference).norm() / reference.norm().clamp_min(1e-6) < 1e-2

"""Inference for S: ``segment(images) -> visible-face probability``.

Weights are the one model-file format (:mod:`deocclude.model_file`, :data:`S_FILE`): fp16
safetensors whose metadata carries the network shape (``config``) and the crop size it was
trained at (``size``). The network is fully convolutional, but it
learnt faces at one scale, so by default inputs are resized to that size, segmented, and
the probability is resized back to the input's size (``native=False`` skips that).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch

from deocclude import precision
from deocclude.device import resolve_device
from deocclude.face_batch import image_batch, native_size, resize_images
from deocclude.model_file import NetworkFile
from deocclude.paths import WEIGHTS_DIR
from deocclude.segment.classes import CLASSES, class_probabilities
from deocclude.segment.model import AnySize, UNet, UNetConfig

DEFAULT_WEIGHTS = WEIGHTS_DIR / "segment_s.safetensors"
# S's files: the oldest ones predate the "format" entry, so only a config is required of them
S_FILE: NetworkFile[UNet] = NetworkFile("segmentation", "deocclude.segment/1", UNet, UNetConfig, DEFAULT_WEIGHTS,
                                        require_format=False)


class Segmenter:
    """A loaded S network. Call it on aligned face crops: ``Segmenter(device="cpu")(crop) -> M_F``.

    ``weights`` is a weights file (default: the bundled one) or an in-memory :class:`UNet`
    (then ``size`` is its training crop size). ``fast``: on a CPU, the layout / dtype
    :mod:`deocclude.precision`'s probe finds fastest (bf16 + channels_last, or fp32
    channels_last); None = that unless ``$DEOCCLUDE_BF16=0``; False = fp32 NCHW.
    """

    def __init__(
        self,
        weights: str | Path | UNet = DEFAULT_WEIGHTS,
        device: str | torch.device = "cpu",
        size: int = 128,
        fast: bool | None = None,
    ) -> None:
        self.device = resolve_device(device)
        if isinstance(weights, UNet):
            net, self.size = weights, size
        else:
            net, info = S_FILE.load(weights, self.device)
            assert info.size is not None  # a file with a config always has a size (NetworkFile.read)
            self.size = info.size
        self.mode = precision.mode_for(self.device, fast)
        self.net = precision.channels_last(AnySize(net).to(self.device).eval(), self.mode.channels_last)

    CLASSES: tuple[str, ...] = CLASSES  # channel order of :meth:`parse`

    @property
    def is_parser(self) -> bool:
        """True when the loaded weights are the [face, hair, other] parser, False for the old binary S."""
        unet = cast(UNet, self.net.net)  # the UNet that __init__ wrapped in AnySize
        return unet.config.out_channels > 1

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor, native: bool = True, batch_size: int = 32) -> torch.Tensor:
        """(B,3,H,W) float in [0,1] → (B,H,W) visible-face probability, on ``self.device``."""
        return self.class_probabilities(images, native, batch_size)[:, 0]

    @torch.no_grad()
    def class_probabilities(self, images: torch.Tensor, native: bool = True, batch_size: int = 32) -> torch.Tensor:
        """(B,3,H,W) float in [0,1] → (B,3,H,W) [face, hair, other] probabilities, on ``self.device``.

        Logits are resized back to the input size before the softmax, so the classes sum to 1
        at every output pixel. Old binary weights give face = p, hair = 0, other = 1 − p.
        """
        out = []
        for chunk in images.split(batch_size):
            x = chunk.to(self.device, torch.float32)
            h, w = x.shape[-2:]
            size = native_size(h, w, self.size) if native else None
            if size is not None:
                x = resize_images(x, size)
            with precision.autocast(self.mode.bf16):
                logits = self.net(precision.as_channels_last(x, self.mode.channels_last)).float()
            if logits.shape[-2:] != (h, w):
                logits = resize_images(logits, (h, w))
            out.append(class_probabilities(logits))
        return torch.cat(out)

    def __call__(self, images: np.ndarray | torch.Tensor, native: bool = True) -> np.ndarray | torch.Tensor:
        """P(visible face) of aligned crops: (H,W) / (B,H,W) float32 (numpy in, numpy out)."""
        return _apply(self, images, native, self.probabilities)

    def parse(self, images: np.ndarray | torch.Tensor, native: bool = True) -> np.ndarray | torch.Tensor:
        """Class probabilities [face, hair, other] (:attr:`CLASSES`): (3,H,W) / (B,3,H,W) float32.

        Same inputs as ``__call__``. The pipeline keeps hair by default from these (M_O from
        P(other)); with old binary weights hair is 0, so it degrades to M_R ⊙ (1 − P(face)).
        """
        return _apply(self, images, native, self.class_probabilities)


def _apply(model: Segmenter, images: np.ndarray | torch.Tensor, native: bool,
           fn: Callable[[torch.Tensor, bool], torch.Tensor]) -> np.ndarray | torch.Tensor:
    """``fn`` on images in any layout :func:`~deocclude.face_batch.image_batch` takes; numpy in → numpy out."""
    x, single = image_batch(images)
    p = fn(x, native)
    out: np.ndarray | torch.Tensor = p if isinstance(images, torch.Tensor) else p.cpu().numpy().astype(np.float32)
    return out[0] if single else out


@functools.lru_cache(maxsize=4)
def load_segmenter(weights: str | Path = DEFAULT_WEIGHTS, device: str = "cpu") -> Segmenter:
    """Load (once per weights file and device) the S network."""
    return Segmenter(weights, device)


def segment(
    images: np.ndarray | torch.Tensor,
    device: str | torch.device = "cpu",
    weights: str | Path = DEFAULT_WEIGHTS,
    native: bool = True,
) -> np.ndarray | torch.Tensor:
    """Visible-face probability M_F of aligned face crops (1 = visible face).

    ``images``: numpy RGB ``(H,W,3)`` / ``(B,H,W,3)`` uint8 or float in [0,1] → numpy
    float32 ``(H,W)`` / ``(B,H,W)``; or a torch ``(3,H,W)`` / ``(B,3,H,W)`` tensor → a
    tensor ``(H,W)`` / ``(B,H,W)`` on ``device``. Any H×W works (padded to a multiple of
    32 inside); with ``native`` (default) the crop is first resized to the training size.
    Threshold at 0.5 for a binary mask; the occlusion mask is ``M_R * (1 - M_F)``.
    """
    return load_segmenter(str(weights), str(device))(images, native)

"""Inference for G: ``inpaint(image, occlusion_mask, prior=None) -> image``.

Weights are the one model-file format (:mod:`deocclude.model_file`, :data:`G_FILE`): fp16
safetensors whose metadata carries the generator's shape (``config``), the crop size it was
trained at (``size``) and whether it takes I_R (``uses_prior``). G is fully convolutional, but it learnt
faces at one scale, so by default (``native=True``) a larger or smaller input is resized
to that size, filled, and the *prediction* is resized back; the composite is done at the
input's own resolution, so pixels outside the hole are always the input's, exactly.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deocclude import precision
from deocclude.errors import DeoccludeError
from deocclude.face_batch import image_batch, native_size, resize_images
from deocclude.inpaint.config import GeneratorConfig
from deocclude.inpaint.generator import Generator, composite, generator_input
from deocclude.model_file import NetworkFile
from deocclude.paths import WEIGHTS_DIR

DEFAULT_WEIGHTS = WEIGHTS_DIR / "inpaint_g.safetensors"
G_FILE: NetworkFile[Generator] = NetworkFile(
    "inpainting", "deocclude.inpaint/1", Generator, GeneratorConfig, DEFAULT_WEIGHTS
)


def uses_prior_metadata(uses_prior: bool) -> dict[str, str]:
    """The metadata entry that tells the pipeline whether to hand G the render I_R."""
    return {"uses_prior": "true" if uses_prior else "false"}


@functools.lru_cache(maxsize=4)
def load_inpainter(weights: str = str(DEFAULT_WEIGHTS), device: str = "cpu") -> Inpainter:
    """Load (once per weights file and device) the G network."""
    net, info = G_FILE.load(weights, device)
    assert info.size is not None  # a file with a config always has a size (NetworkFile.read)
    return Inpainter(net, info.size, device, uses_prior=info.metadata.get("uses_prior") == "true")


class Inpainter:
    """A loaded G. :meth:`fill` works on batched float tensors; :func:`inpaint` adds the formats.

    ``uses_prior``: G was trained with I_R as input (weights without the flag, or trained
    with ``--no-prior``, get zeros there, as in training). ``fast``: on a CPU, G runs in the
    layout / dtype :mod:`deocclude.precision`'s probe finds fastest (None; False = fp32 NCHW).
    """

    def __init__(self, net: Generator, size: int, device: str | torch.device = "cpu", uses_prior: bool = False,
                 fast: bool | None = None) -> None:
        self.size, self.device, self.uses_prior = size, torch.device(device), uses_prior
        self.mode = precision.mode_for(self.device, fast)
        self.net = precision.channels_last(net, self.mode.channels_last)

    @torch.no_grad()
    def fill(self, image: torch.Tensor, hole: torch.Tensor, prior: torch.Tensor | None = None,
             native: bool = True, seed: int = 0) -> torch.Tensor:
        """(B,3,H,W) image, (B,1,H,W) hole (1 = fill), optional (B,3,H,W) prior, all in [0,1] → Î_out."""
        image, hole = image.to(self.device, torch.float32), (hole.to(self.device, torch.float32) > 0.5).float()
        prior = prior.to(self.device, torch.float32) if prior is not None else None
        h, w = image.shape[-2:]
        size = native_size(h, w, self.size) if native else None
        x, m, r = image, hole, prior
        if size is not None:
            x = resize_images(image, size)
            shrink = size[0] < h or size[1] < w  # the hole: any covered pixel stays covered
            m = (F.interpolate(hole, size=size, mode="area" if shrink else "bilinear") > 0).float()
            r = None if prior is None else resize_images(prior, size)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        with precision.autocast(self.mode.bf16):
            pred = (
                self.net(precision.as_channels_last(generator_input(x, m, r, gen), self.mode.channels_last)).float() + 1
            ) / 2
        if size is not None:
            pred = resize_images(pred, (h, w))
        return composite(image, pred, hole)


def _mask_batch(mask: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(B,1,H,W) float from a numpy / torch mask (H,W), (B,H,W) or (B,1,H,W), values as given
    (0/1 and 0/255 alike; the caller rescales 255s)."""
    t = (
        mask
        if isinstance(mask, torch.Tensor)
        else torch.from_numpy(np.ascontiguousarray(np.asarray(mask, dtype=np.float32)))
    )
    if t.ndim in (2, 3) and (t.ndim == 2 or t.shape[0] != 1 or not isinstance(mask, torch.Tensor)):
        t = t.unsqueeze(-3)  # (H,W) or (B,H,W)
    t = t[None] if t.ndim == 3 else t
    if t.ndim != 4 or t.shape[1] != 1:
        raise DeoccludeError(f"occlusion_mask: expected a mask (H,W) or (B,H,W), got shape {tuple(np.shape(mask))}")
    return t.float()


def inpaint(image: np.ndarray | torch.Tensor, occlusion_mask: np.ndarray | torch.Tensor,
            prior: np.ndarray | torch.Tensor | None = None, device: str | torch.device = "cpu",
            weights: str | Path = DEFAULT_WEIGHTS, native: bool = True, seed: int = 0) -> np.ndarray | torch.Tensor:
    """Fill the occluded pixels of aligned face crops with G; the rest stays exactly as given.

    ``image``: numpy RGB (H,W,3) / (B,H,W,3) uint8 or float in [0,1] → the same layout and
    dtype back; or a torch (3,H,W) / (B,3,H,W) tensor → a float tensor in [0,1] on ``device``.
    ``occlusion_mask``: (H,W) / (B,H,W) (numpy or torch, or (B,1,H,W)); 1 (or 255) = hole,
    works with M_O from the pipeline or a user-drawn mask. ``prior``: the rendered 3D face
    I_R in the image's layout, black outside the rendered face (that background is replaced
    by the render's colours carried outwards, as the pipeline does); None = render it with
    the bundled R when this G was trained with I_R (the image must then be a canonical
    aligned crop, as the pipeline makes them).
    ``seed`` fixes the noise put into the hole.
    """
    img, single = image_batch(image, "image")
    hole = _mask_batch(occlusion_mask)
    if hole.max() > 1.0:
        hole = hole / 255.0
    if hole.shape[-2:] != img.shape[-2:] or len(hole) != len(img):
        raise DeoccludeError(f"occlusion mask shape {tuple(hole.shape)} does not match image {tuple(img.shape)}")
    pri = None
    if prior is not None:
        pri, _ = image_batch(prior, "prior")
        if pri.shape != img.shape:
            raise DeoccludeError(f"prior shape {tuple(pri.shape)} does not match image {tuple(img.shape)}")
    inpainter = load_inpainter(str(weights), str(device))
    if pri is None and inpainter.uses_prior:
        pri = _render_prior(img, str(device))
    elif pri is not None:  # a render's background is black: that is its M_R
        from deocclude.inpaint.guidance import render_guidance_tensor

        pri = render_guidance_tensor(pri, (pri.amax(1, keepdim=True) > 0).float())
    out = inpainter.fill(img, hole, pri, native, seed)
    if isinstance(image, torch.Tensor):
        return out[0] if single else out
    arr = out.permute(0, 2, 3, 1).cpu().numpy()
    if np.asarray(image).dtype == np.uint8:
        arr = np.where(np.asarray(hole.permute(0, 2, 3, 1).numpy()) > 0.5, (arr * 255 + 0.5).astype(np.uint8),
                       np.asarray(image)[None] if single else np.asarray(image))
    return arr[0] if single else arr


def _render_prior(images: torch.Tensor, device: str) -> torch.Tensor | None:
    """I_R of aligned crops (B,3,H,W) in [0,1] by the bundled R; None when R is not installed."""
    from deocclude.errors import WeightsNotFoundError
    from deocclude.inpaint.guidance import render_guidance_tensor
    from deocclude.reconstruct.inference import default_reconstructor

    try:
        reconstructor = default_reconstructor(device)
    except (WeightsNotFoundError, FileNotFoundError):
        return None
    rendered = reconstructor(images)
    return render_guidance_tensor(rendered.image.float().cpu(), rendered.mask.float().cpu())


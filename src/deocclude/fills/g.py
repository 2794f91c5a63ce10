"""G, the learned guided inpainter (gated convolutions, self-attention, I_R as input): ``--fill g``."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from deocclude.errors import DeoccludeError
from deocclude.face_batch import FaceBatch
from deocclude.fills.registry import register_fill

if TYPE_CHECKING:
    import torch


@register_fill("g")
class GFill:
    """One G network call per batch; it follows ``batch.guidance`` when it was trained with I_R.

    G runs at the crop's own size (fully convolutional), not at the size it was trained at:
    ``--size 256`` fills at 256. Measured with the 128-trained bundled G on the sunglasses protocol at
    256 (48 faces, automatic mask; `deocclude eval --protocol sunglasses --size 256 --limit 48`), against
    resizing to 128 and back: L1 0.0771 → 0.0760, PSNR 20.18 → 20.30, ArcFace cosine 0.673 → 0.694, SSIM
    0.684 → 0.682 (oracle mask alike). A G trained at 256 is the campaign's next step (issue 17).

    ``weights``: a G file (default the bundled ``inpaint_g.safetensors``); ``label``: its
    evaluation row; ``half``: fp16 autocast on CUDA (ignored on the CPU, whose precision the
    inpainter's probe chooses: deocclude/precision.py).
    """

    name, needs_render = "g", False

    def __init__(self, device: str = "cpu", weights: str | None = None, label: str = "G", half: bool = False,
                 **_: object) -> None:
        from deocclude.inpaint.api import DEFAULT_WEIGHTS, load_inpainter

        path = str(weights or DEFAULT_WEIGHTS)
        try:
            self.inpainter = load_inpainter(path, device)
        except FileNotFoundError:
            raise DeoccludeError(f"G's weights ({path}) are not installed") from None
        self.label, self.device, self.half = label, str(device), half

    @property
    def uses_prior(self) -> bool:
        """G was trained with I_R as an input (weights metadata); older G builds have no flag."""
        return bool(getattr(self.inpainter, "uses_prior", False))

    def describe(self, batch: FaceBatch) -> str:
        """``<label> with I_R`` when G followed the render."""
        return f"{self.label} with I_R" if self.uses_prior and batch.render is not None else self.label

    def __call__(self, batch: FaceBatch) -> torch.Tensor:
        import torch

        prior = batch.guidance_tensor if self.uses_prior else None
        autocast = (torch.autocast("cuda", dtype=torch.float16) if self.half and self.device.startswith("cuda")
                    else contextlib.nullcontext())
        with torch.no_grad(), autocast:
            return self.inpainter.fill(batch.image, batch.hole, prior, native=False, seed=batch.seed).float().cpu()

"""Where G's 3D prior (I_R, M_R) comes from during training and evaluation.

R's renders of the teacher coefficients are produced by another module and may not
exist yet, so the data path asks a provider and never knows which one it got:

- :class:`ZeroPrior`: no render (I_R = zeros, the paper's "no I_R" ablation) and the
  face-mesh surface as M_R, which is what R's M_R approximates (the whole face surface).
- :class:`CachedRenders`: renders cached by R as a folder ``renders.npy`` (K, N, N, 3)
  uint8, ``masks.npy`` (K, N, N) uint8 (255 = rendered face) and ``names.json`` (K face
  file names), aligned like :class:`deocclude.data.UTKFaceFaces` at the same N.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from deocclude.errors import DeoccludeError


class ZeroPrior:
    """I_R = None (fed as zeros), M_R = the mesh mask of the face."""

    available = False
    key = "zeros"

    def __call__(self, item: dict) -> tuple[torch.Tensor | None, torch.Tensor]:
        return None, item["mesh_mask"]


class CachedRenders:
    """Teacher renders looked up by face name; faces without a render fall back to :class:`ZeroPrior`."""

    available = True

    def __init__(self, folder: str | Path, size: int) -> None:
        folder = Path(folder)
        files = [folder / f for f in ("renders.npy", "masks.npy", "names.json")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise DeoccludeError(f"prior cache incomplete, missing: {', '.join(missing)}")
        self.renders = np.load(files[0], mmap_mode="r")
        self.masks = np.load(files[1], mmap_mode="r")
        if self.renders.shape[1:3] != (size, size):
            raise DeoccludeError(f"prior cache {folder} holds {self.renders.shape[1]}px renders, the run uses {size}px")
        self.index = {n: i for i, n in enumerate(json.loads(files[2].read_text()))}
        self.key = f"renders_{folder.resolve().name}"

    def __call__(self, item: dict) -> tuple[torch.Tensor | None, torch.Tensor]:
        i = self.index.get(item["name"])
        if i is None:
            return None, item["mesh_mask"]
        render = torch.from_numpy(np.asarray(self.renders[i], dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
        mask = torch.from_numpy(np.asarray(self.masks[i], dtype=np.float32) / 255.0)[None]
        return render, mask


def make_prior(spec: str, size: int, disabled: bool = False) -> ZeroPrior | CachedRenders:
    """``"zeros"`` (or ``disabled``) → :class:`ZeroPrior`; anything else is a cache folder."""
    if disabled or spec in ("", "zeros", "none"):
        return ZeroPrior()
    return CachedRenders(spec, size)

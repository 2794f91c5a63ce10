"""Where G's 3D prior (I_R, M_R) comes from during training and evaluation.

The data path asks a provider and never knows which one it got:

- :class:`ZeroPrior`: no render (I_R = zeros, the paper's "no I_R" ablation) and the
  face-mesh surface as M_R, which is what R's M_R approximates (the whole face surface).
- :class:`RegressorRenders` (``--prior r``, the default): I_R and M_R rendered by the bundled
  R from each clean training face, computed once per face set and R weights and memory-mapped
  from the cache (a few seconds on a GPU, about a minute per 1,000 faces on a CPU). R sees the
  clean face here and the occluded one at run time; R is trained to give the same x for both
  (mixed protocol: 1.9 px landmark error occluded vs 1.7 px clean), so the gap is small.
- :class:`CachedRenders`: renders made elsewhere, as a folder ``renders.npy`` (K, N, N, 3)
  uint8, ``masks.npy`` (K, N, N) uint8 (255 = rendered face) and ``names.json`` (K face
  file names), aligned like :class:`deocclude.data.UTKFaceFaces` at the same N.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from deocclude.data.cache import MemmapCached, load_or_build
from deocclude.errors import DeoccludeError
from deocclude.paths import cache_root


class ZeroPrior:
    """I_R = None (fed as zeros), M_R = the mesh mask of the face."""

    available = False
    key = "zeros"

    def __call__(self, item: dict) -> tuple[torch.Tensor | None, torch.Tensor]:
        return None, item["mesh_mask"]


class _RenderArrays(MemmapCached):
    """Renders and masks looked up by face name; faces without a render fall back to :class:`ZeroPrior`.

    Subclasses set ``arrays`` (keys ``_array_keys`` = (renders, masks)), ``index`` and ``key``.
    Memory-mapped, and re-opened (not copied) in spawned loader workers.
    """

    available = True
    index: dict[str, int]
    key: str

    def __call__(self, item: dict) -> tuple[torch.Tensor | None, torch.Tensor]:
        i = self.index.get(item["name"])
        if i is None:
            return None, item["mesh_mask"]
        renders, masks = (self.arrays[k] for k in self._array_keys)
        render = torch.from_numpy(np.asarray(renders[i], dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
        mask = torch.from_numpy(np.asarray(masks[i], dtype=np.float32) / 255.0)[None]
        return render, mask


class CachedRenders(_RenderArrays):
    """A folder of renders made elsewhere (see the module docstring)."""

    _array_keys = ("renders", "masks")

    def __init__(self, folder: str | Path, size: int) -> None:
        folder = Path(folder)
        files = [folder / f for f in ("renders.npy", "masks.npy", "names.json")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise DeoccludeError(f"prior cache incomplete, missing: {', '.join(missing)}")
        self._entry = folder
        self.arrays = {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in self._array_keys}
        if self.arrays["renders"].shape[1:3] != (size, size):
            raise DeoccludeError(
                f"prior cache {folder} holds {self.arrays['renders'].shape[1]}px renders, the run uses {size}px"
            )
        self.index = {n: i for i, n in enumerate(json.loads(files[2].read_text()))}
        self.key = f"renders_{folder.resolve().name}"


class RegressorRenders(_RenderArrays):
    """I_R and M_R of every face of ``faces``, rendered by R from the clean face and cached."""

    _array_keys = ("render", "mask")

    def __init__(self, faces, size: int, weights: str | Path | None = None, device: str = "auto",
                 batch_size: int = 64) -> None:
        from deocclude.reconstruct.inference import DEFAULT_WEIGHTS

        weights = Path(weights) if weights else DEFAULT_WEIGHTS
        if not weights.is_file():
            raise DeoccludeError(f"--prior r needs R's weights, not found at {weights}")
        names = list(faces.names)
        r_digest = hashlib.sha1(weights.read_bytes()).hexdigest()[:10]
        digest = hashlib.sha1(("\n".join(names) + r_digest).encode()).hexdigest()[:10]
        self.key = f"r_{r_digest}_{digest}"
        self._entry = cache_root() / f"inpaint_renders_{size}_{digest}"
        self.index = {name: i for i, name in enumerate(names)}

        def rows() -> Iterator[dict[str, np.ndarray]]:
            from deocclude.reconstruct.inference import Reconstructor

            reconstructor = Reconstructor(weights, device=device)
            for start in range(0, len(faces), batch_size):
                crops = torch.stack([faces[i]["image"] for i in range(start, min(start + batch_size, len(faces)))])
                _, render, mask = reconstructor(crops)
                render_u8 = (render.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                mask_u8 = ((mask[:, 0] > 0.5) * 255).to(torch.uint8).cpu().numpy()
                for r, m in zip(render_u8, mask_u8):
                    yield {"render": r, "mask": m}

        self.arrays = load_or_build(
            self._entry,
            {"render": ((size, size, 3), np.uint8), "mask": ((size, size), np.uint8)},
            len(names),
            rows,
            {"version": 1, "key": self.key, "count": len(names), "size": size},
            "I_R renders by R",
        )


Prior = ZeroPrior | CachedRenders | RegressorRenders


def make_prior(spec: str, size: int, faces=None, disabled: bool = False, device: str = "auto") -> Prior:
    """``"zeros"`` (or ``disabled``) → :class:`ZeroPrior`; ``"r"`` → :class:`RegressorRenders` of
    ``faces``; anything else is a folder of :class:`CachedRenders`."""
    if disabled or spec in ("", "zeros", "none"):
        return ZeroPrior()
    if spec == "r":
        if faces is None:
            raise ValueError("prior 'r' renders the faces it is given")
        return RegressorRenders(faces, size, device=device)
    return CachedRenders(spec, size)

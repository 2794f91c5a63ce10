"""``FaceBatch``: B aligned faces and everything computed for them, made once and shared.

S, R, the mask recipe and every fill read the same object, so a map is computed once per
batch (the guidance G and the blend follow, the tensors a network takes) and the
conversions between the two worlds the pipeline lives in are written here only:

- host arrays (numpy): what the faces path and the OpenCV stages (mask shaping, Poisson
  blend, Telea) work on: ``crops`` (B, N, N, 3) uint8, masks (B, N, N) float32, I_R
  (B, N, N, 3) uint8 (R's render is quantised once, exactly as it is written to disk);
- tensor views (torch, on ``device``): what networks take: :attr:`image` (B, 3, N, N) in
  [0, 1], :attr:`hole` (B, 1, N, N), :attr:`guidance_tensor` (B, 3, N, N), each made on
  first use and cached.

Masks: 1 = occluded in ``occlusion`` (M_O); 1 = face in ``region`` (M_R) and ``visible`` (M_F).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def image_batch(images: np.ndarray | torch.Tensor, what: str = "images") -> tuple[torch.Tensor, bool]:
    """The public functions' one input adapter: RGB images in any layout users hand over
    → ((B, 3, H, W) float32 tensor, whether a single image was given).

    numpy (H, W, 3) / (B, H, W, 3) or torch (3, H, W) / (B, 3, H, W); uint8 is intensity and
    comes back in [0, 1], floats are taken as already in [0, 1]. Anything else is a one-line
    :class:`DeoccludeError` naming ``what``.
    """
    import torch

    from deocclude.errors import DeoccludeError

    if isinstance(images, torch.Tensor):
        single = images.ndim == 3
        t = images[None] if single else images
        if t.ndim != 4 or t.shape[1] != 3:
            raise DeoccludeError(f"{what}: expected a (3,H,W) or (B,3,H,W) tensor, got shape {tuple(images.shape)}")
        return (t.float() / 255.0 if t.dtype == torch.uint8 else t.float()), single
    a = np.asarray(images)
    a = a.astype(np.float32) if a.dtype == bool else a
    single = a.ndim == 3
    a = a[None] if single else a
    if a.ndim != 4 or a.shape[-1] != 3:
        raise DeoccludeError(f"{what}: expected RGB images (H,W,3) or (B,H,W,3), got shape {np.shape(images)}")
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)
    return (t.float() / 255.0 if a.dtype == np.uint8 else t.float()), single


def native_size(height: int, width: int, side: int) -> tuple[int, int] | None:
    """(h, w) scaled so the longer side is ``side`` (a network's training size), or None when it already is."""
    scale = side / max(height, width)
    if abs(scale - 1.0) <= 1e-6:
        return None
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) → (B, C, *size), bilinear, anti-aliased when shrinking: the one "to the network's
    size and back" every model wrapper (S, R, G) uses."""
    import torch.nn.functional as F

    shrink = size[0] < images.shape[-2] or size[1] < images.shape[-1]
    return F.interpolate(images, size=size, mode="bilinear", antialias=shrink, align_corners=False)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, N, N, 3) uint8 → (B, 3, N, N) float32 in [0, 1] (on the CPU)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def tensor_to_images(images: torch.Tensor) -> np.ndarray:
    """(B, 3, N, N) float in [0, 1] (any device) → (B, N, N, 3) uint8, rounded to nearest."""
    return (images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


@dataclass
class FaceBatch:
    """The faces one S / R / fill call works on (see the module docstring for the two views)."""

    crops: np.ndarray
    """(B, N, N, 3) uint8: the aligned crops as cut from the photos (I_N where occluded)."""
    region: np.ndarray
    """(B, N, N) float32 M_R: R's rendered face (the mesh surface without R)."""
    valid: np.ndarray | None = None
    """(B, N, N) float32, 1 = a real photo pixel (0 where the crop left the photo); None = all real."""
    visible: np.ndarray | None = None
    """(B, N, N) float32 M_F: S's probability that a pixel is visible face (and hair, where hair is kept)."""
    skin: np.ndarray | None = None
    """(B, N, N) float32: S's probability of the face class alone (no hair, cap or glasses): the pixels whose colour
    the fill's colour follows (fills/colour.py)."""
    occlusion: np.ndarray | None = None
    """(B, N, N) float32 M_O, 1 = occluded: what a fill replaces."""
    render: np.ndarray | None = None
    """(B, N, N, 3) uint8 I_R, or None without R."""
    coefficients: np.ndarray | None = None
    """(B, K) float32 R's 3DMM coefficients x, or None without R."""
    device: str = "cpu"
    """Where the tensor views live (and the fills' networks run)."""
    seed: int = 0
    """Seed of any noise a fill draws (G's noise input): evaluations seed each batch."""
    _cache: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def size(self) -> int:
        """N, the side of the crops."""
        return int(self.crops.shape[1])

    def _cached(self, key: str, make):  # noqa: ANN001, ANN202 - a zero-argument maker, its value
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def image(self) -> torch.Tensor:
        """(B, 3, N, N) float32 crops in [0, 1] on :attr:`device`."""
        return self._cached("image", lambda: images_to_tensor(self.crops).to(self.device))

    @property
    def hole(self) -> torch.Tensor:
        """(B, 1, N, N) float32 M_O on :attr:`device` (requires :attr:`occlusion`)."""
        import torch

        if self.occlusion is None:
            raise ValueError("this FaceBatch has no occlusion mask yet")
        return self._cached("hole", lambda: torch.from_numpy(
            np.ascontiguousarray(self.occlusion, dtype=np.float32))[:, None].to(self.device))

    @property
    def guidance(self) -> np.ndarray | None:
        """(B, N, N, 3) uint8 I_R carried over its background (inpaint/guidance.py): what G follows; None without R."""
        from deocclude.inpaint.guidance import render_guidance

        if self.render is None:
            return None
        return self._cached(
            "guidance", lambda: np.stack([render_guidance(r, m) for r, m in zip(self.render, self.region)])
        )

    @property
    def guidance_tensor(self) -> torch.Tensor | None:
        """:attr:`guidance` as (B, 3, N, N) float32 in [0, 1] on :attr:`device`."""
        guidance = self.guidance
        if guidance is None:
            return None
        return self._cached("guidance_tensor", lambda: images_to_tensor(guidance).to(self.device))

    def with_occlusion(self, occlusion: np.ndarray) -> FaceBatch:
        """The same faces with another M_O (evaluation: the oracle mask beside the found one).

        Views that do not depend on M_O (image, guidance) are shared, not recomputed.
        """
        other = replace(self, occlusion=np.asarray(occlusion, dtype=np.float32))
        other._cache.update({k: v for k, v in self._cache.items() if k != "hole"})
        return other

    def select(self, indices: list[int]) -> FaceBatch:
        """The faces at ``indices`` (a fill then runs only on the faces it will change)."""
        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[indices]

        return FaceBatch(self.crops[indices], self.region[indices], valid=pick(self.valid), visible=pick(self.visible),
                         skin=pick(self.skin), occlusion=pick(self.occlusion), render=pick(self.render),
                         coefficients=pick(self.coefficients), device=self.device, seed=self.seed)

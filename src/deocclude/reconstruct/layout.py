"""How a coefficient vector x splits into named fields.

Every consumer (the regressor R, the teacher fit, the renderer, losses) slices x through
this one class, so the layout can change in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


class Coefficients(NamedTuple):
    """The fields of x, as views (no copies) of a (B, 257) tensor."""

    angles: torch.Tensor  # (B, 3) pitch (about X), yaw (about Y), roll (about Z), radians
    translation: torch.Tensor  # (B, 3) model units, added to the model's default translation
    shape: torch.Tensor  # (B, n_shape) in units of each component's std-dev
    albedo: torch.Tensor  # (B, n_albedo) in units of each component's std-dev
    light: torch.Tensor  # (B, 9, 3) SH coefficients per colour channel, added to the default light


@dataclass(frozen=True)
class CoefficientLayout:
    """Sizes of the fields of x; ``6 + 144 + 80 + 27 = 257`` by default (the paper's layout)."""

    n_pose: int = 6
    n_shape: int = 144
    n_albedo: int = 80
    n_light: int = 27

    def __post_init__(self) -> None:
        if self.n_pose != 6 or self.n_light != 27:
            raise ValueError("pose must have 6 numbers (3 angles + 3 translation) and light 27 (9 SH x RGB)")

    @property
    def size(self) -> int:
        return self.n_pose + self.n_shape + self.n_albedo + self.n_light

    @property
    def pose(self) -> slice:
        return slice(0, self.n_pose)

    @property
    def angles(self) -> slice:
        return slice(0, 3)

    @property
    def translation(self) -> slice:
        return slice(3, 6)

    @property
    def shape(self) -> slice:
        return slice(self.n_pose, self.n_pose + self.n_shape)

    @property
    def albedo(self) -> slice:
        start = self.n_pose + self.n_shape
        return slice(start, start + self.n_albedo)

    @property
    def light(self) -> slice:
        start = self.n_pose + self.n_shape + self.n_albedo
        return slice(start, start + self.n_light)

    def split(self, x: torch.Tensor) -> Coefficients:
        """Views of the named fields of ``x`` (B, size); gradients flow through them."""
        if x.ndim != 2 or x.shape[1] != self.size:
            raise ValueError(f"expected coefficients of shape (B, {self.size}), got {tuple(x.shape)}")
        return Coefficients(
            angles=x[:, self.angles],
            translation=x[:, self.translation],
            shape=x[:, self.shape],
            albedo=x[:, self.albedo],
            light=x[:, self.light].reshape(-1, 9, 3),
        )

    def join(self, angles: torch.Tensor, translation: torch.Tensor, shape: torch.Tensor,
             albedo: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`split`: concatenate fields into x (B, size)."""
        return torch.cat([angles, translation, shape, albedo, light.reshape(light.shape[0], 27)], dim=1)

    def zeros(self, batch: int, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """x = 0: the mean face, frontal, in the canonical framing, under the default light."""
        return torch.zeros(batch, self.size, device=device, dtype=dtype)

    def field_names(self) -> list[str]:
        """A name per entry of x (for logs, npz caches and loss breakdowns)."""
        names = ["pitch", "yaw", "roll", "tx", "ty", "tz"]
        names += [f"shape{i}" for i in range(self.n_shape)]
        names += [f"albedo{i}" for i in range(self.n_albedo)]
        names += [f"sh{k}_{c}" for k in range(9) for c in "rgb"]
        return names

"""Composition (docs/method.md §2, eq. 2) and the result type of one synthesis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Occlusion:
    """One synthetic occlusion of one face.

    ``image`` = I' = I (1 - A) + O A exactly; ``alpha`` = A (the ground-truth occluder
    opacity, 1 = occluded); ``colour`` = O (only meaningful where A > 0); ``source`` names the
    occluder (bank item or procedural design).
    """

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    alpha: np.ndarray  # (H, W) float32 in [0, 1]
    colour: np.ndarray  # (H, W, 3) float32 in [0, 1]
    category: str
    source: str

    def occlusion_of(self, mesh: np.ndarray) -> np.ndarray:
        """The true occlusion of the face: A restricted to the face surface (A * mesh)."""
        return self.alpha * mesh


def compose(image: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """I' = I (1 - A) + O A  (float32; all inputs in [0, 1])."""
    a = alpha[..., None]
    return (image * (1.0 - a) + colour * a).astype(np.float32)

"""Random parameters with held-out sub-ranges for the test split.

Procedural occluders have no files to hold out, so the test protocols hold out *parts of
their parameter ranges* instead: every continuous knob that matters (lens tint hue, frame
shape exponent, blob roughness...) has a sub-interval that only ``split="test"`` draws
from. A model trained on ``train`` therefore never saw exactly those designs.
"""

from __future__ import annotations

import numpy as np


def split_uniform(rng: np.random.Generator, lo: float, hi: float, split: str,
                  hold: tuple[float, float] | None = None) -> float:
    """Uniform on [lo, hi] without ``hold`` for train; uniform on ``hold`` for test.

    With ``hold=None`` the middle 20% of the range is held out. Draws exactly one number
    from ``rng`` in both cases, so the stream stays aligned across splits.
    """
    if hold is None:
        mid, half = (lo + hi) / 2, 0.1 * (hi - lo)
        hold = (mid - half, mid + half)
    a, b = hold
    u = float(rng.random())
    if split == "test":
        return a + u * (b - a)
    left, right = a - lo, hi - b
    x = u * (left + right)
    return lo + x if x < left else b + (x - left)


def pick(rng: np.random.Generator, options: tuple, weights: tuple[float, ...] | None = None):
    """One of ``options`` (optionally weighted), drawing one number from ``rng``."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w / w.sum())
    return options[min(int(np.searchsorted(c, rng.random(), side="right")), len(options) - 1)]

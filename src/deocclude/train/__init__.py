"""The shared training loop (one loop, a recipe per module: S, R, G).

``deocclude train <recipe> [--flags]``; a recipe is a :class:`Task` plus a frozen config
dataclass deriving from :class:`TrainConfig` (see :mod:`deocclude.train.recipes`). The
loop is :func:`deocclude.train.loop.train`. Names load lazily: building the CLI's flags
from configs must not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "deocclude.train.config",
    "Stage": "deocclude.train.task",
    "Task": "deocclude.train.task",
    "train": "deocclude.train.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deocclude.train' has no attribute {name!r}")

"""S: visible-face segmentation (docs/method.md §3).

``segment(images, device=...)`` gives the visible-face probability M_F of aligned face
crops; threshold at 0.5. The occlusion mask is M_O = M_R ⊙ (1 − M_F). Names are loaded
lazily so that ``deocclude.segment.config`` (used to build CLI flags) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_WEIGHTS": "deocclude.segment.inference",
    "Segmenter": "deocclude.segment.inference",
    "load_segmenter": "deocclude.segment.inference",
    "segment": "deocclude.segment.inference",
    "AnySize": "deocclude.segment.model",
    "UNet": "deocclude.segment.model",
    "UNetConfig": "deocclude.segment.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deocclude.segment' has no attribute {name!r}")

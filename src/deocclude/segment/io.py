"""File handling for the ``segment`` command: input expansion and overlays."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.imageio import IMAGE_SUFFIXES


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns → image paths; error if none."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            files.append(path)
        elif any(c in item for c in "*?["):
            files += sorted(Path(p) for p in glob.glob(item) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        else:
            raise DeoccludeError(f"{item}: no such file or folder")
    if not files:
        raise DeoccludeError(f"no images found in {' '.join(inputs)}")
    return files


def overlay_mask(image: np.ndarray, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Visible face tinted green, the rest tinted red (RGB uint8)."""
    m = mask[..., None].astype(np.float32)
    green = np.array([0, 255, 0], np.float32)
    red = np.array([255, 0, 0], np.float32)
    tint = m * green + (1 - m) * red
    return (image.astype(np.float32) * (1 - alpha) + tint * alpha + 0.5).clip(0, 255).astype(np.uint8)

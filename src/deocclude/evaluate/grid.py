"""The picture of a Table 1 run: one row per face, one column per stage, labelled.

Columns: occluded input | true occlusion T (red) | automatic M_O (magenta) | I_R |
automatic + I_R Poisson blend (the paper's I_P, our default fill) | automatic + Telea |
automatic + G | clean. It shows at a glance whether a bad score comes from the mask
(compare columns 2 and 3) or from the fill (columns 5 to 7).
It holds UTKFace pixels: write it outside the repository's tracked files (default ``out/``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

COLUMNS = ("input", "true T", "auto M_O", "I_R", "auto I_P", "auto Telea", "auto G", "clean")


class GridCollector:
    """Keeps the first ``count`` faces' tiles while the evaluation streams past them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.rows: list[list[np.ndarray]] = []

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.count

    def add(self, occluded: np.ndarray, true: np.ndarray, found: np.ndarray, renders: np.ndarray | None,
            blend: torch.Tensor | None, telea: torch.Tensor, g: torch.Tensor | None, clean: torch.Tensor) -> None:
        """One batch: uint8 crops (B, N, N, 3), masks (B, N, N), float results (B, 3, N, N)."""
        from deocclude.train.grid import overlay, to_rgb_uint8

        for i in range(len(occluded)):
            if self.full:
                return
            image = torch.from_numpy(occluded[i]).permute(2, 0, 1).float() / 255.0
            blank = np.zeros_like(occluded[i])
            self.rows.append([
                occluded[i],
                to_rgb_uint8(overlay(image, torch.from_numpy(true[i].astype(np.float32)), (1.0, 0.0, 0.0), 0.6)),
                to_rgb_uint8(overlay(image, torch.from_numpy(found[i].astype(np.float32)), (1.0, 0.0, 1.0), 0.6)),
                renders[i] if renders is not None else blank,
                to_rgb_uint8(blend[i]) if blend is not None else blank,
                to_rgb_uint8(telea[i]),
                to_rgb_uint8(g[i]) if g is not None else blank,
                to_rgb_uint8(clean[i]),
            ])

    def write(self, path: Path) -> Path | None:
        """Write the labelled grid (None when no face was collected)."""
        from deocclude.imageio import write_image
        from deocclude.train.grid import tile

        if not self.rows:
            return None
        size = self.rows[0][0].shape[0]
        header = []
        for name in COLUMNS:
            cell = np.full((18, size, 3), 255, np.uint8)
            cv2.putText(cell, name, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
            header.append(cell)
        body = tile(self.rows)
        head = tile([header])
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, np.concatenate([head, np.full((2, body.shape[1], 3), 255, np.uint8), body]))
        return path

"""Pictures for people: landmark overlays, mask overlays and labelled grids."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB from an RGB image or a [0, 1] mask (masks shown grey)."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return image


def draw_landmarks(image: np.ndarray, points: np.ndarray, box: Sequence[float] | None = None,
                   keypoints: np.ndarray | None = None) -> np.ndarray:
    """Mesh points (green), detection box (yellow) and detector keypoints (red) on a copy."""
    out = to_rgb(image).copy()
    radius = max(1, round(max(out.shape[:2]) / 400))
    for x, y in np.asarray(points)[:, :2]:
        cv2.circle(out, (int(x), int(y)), radius, (0, 255, 0), -1, cv2.LINE_AA)
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 220, 0), max(1, radius), cv2.LINE_AA)
    if keypoints is not None:
        for x, y in np.asarray(keypoints):
            cv2.circle(out, (int(x), int(y)), 2 * radius + 1, (255, 0, 0), -1, cv2.LINE_AA)
    return out


def overlay_mask(
    image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 0, 40), alpha: float = 0.5
) -> np.ndarray:
    """Tint the pixels where ``mask`` is 1."""
    base = to_rgb(image).astype(np.float32)
    weight = alpha * np.clip(mask, 0.0, 1.0)[..., None]
    return (base * (1 - weight) + np.array(colour, np.float32) * weight + 0.5).astype(np.uint8)


def labelled_grid(
    rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str] | None = None, cell: int = 160
) -> np.ndarray:
    """Tile images (resized to ``cell``×``cell``) in rows, with column labels on top."""
    header = 18 if labels else 0
    n_cols = max(len(r) for r in rows)
    grid = np.full((header + len(rows) * cell, n_cols * cell, 3), 255, np.uint8)
    for c, text in enumerate(labels or []):
        cv2.putText(grid, text, (c * cell + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            tile = cv2.resize(to_rgb(image), (cell, cell), interpolation=cv2.INTER_AREA)
            grid[header + r * cell : header + (r + 1) * cell, c * cell : (c + 1) * cell] = tile
    return grid

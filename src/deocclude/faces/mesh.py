"""The 468-point MediaPipe face-mesh topology and its rasterisation.

The whole face surface (forehead to chin, eyes and mouth included) is the union of the
mesh triangles plus the three hole loops the tessellation leaves open (mouth opening and
both eye openings). Rasterising it this way reproduces the shared data's ``mesh_masks``
exactly, so the pipeline's "where the face should be" agrees with the training labels.
"""

from __future__ import annotations

import json
from functools import lru_cache

import cv2
import numpy as np

from deocclude.paths import ASSETS_DIR

NUM_LANDMARKS = 468
_SUBPIXEL_BITS = 4  # 1/16 px, as used to make the shared mesh masks


@lru_cache(maxsize=1)
def _topology() -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    data = json.loads((ASSETS_DIR / "mesh_topology.json").read_text())
    triangles = np.asarray(data["triangles"], dtype=np.int64)
    loops = tuple(np.asarray(loop, dtype=np.int64) for loop in data["hole_loops"])
    return triangles, loops


TRIANGLES: np.ndarray = _topology()[0]
"""(854, 3) vertex indices of the mesh triangles (MediaPipe FACEMESH_TESSELATION 3-cliques)."""
HOLE_LOOPS: tuple[np.ndarray, ...] = _topology()[1]
"""Ordered vertex cycles of the mouth opening and the two eye openings."""


def mesh_mask(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Rasterise the whole face-mesh surface: float32 (H, W), 1 = face surface.

    ``landmarks`` are (468, 2|3) pixel coordinates with pixel centres at +0.5.
    """
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    if points.shape[0] != NUM_LANDMARKS:
        raise ValueError(f"expected {NUM_LANDMARKS} landmarks, got {points.shape[0]}")
    scale = 1 << _SUBPIXEL_BITS
    fixed = np.round((points - 0.5) * scale).astype(np.int32)
    mask = np.zeros((height, width), dtype=np.uint8)
    for tri in TRIANGLES:
        cv2.fillConvexPoly(mask, fixed[tri], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    cv2.fillPoly(mask, [fixed[loop] for loop in HOLE_LOOPS], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask.astype(np.float32)

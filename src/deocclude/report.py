"""What ``deocclude run`` writes next to each photo: a per-face grid and optional PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deocclude.imageio import write_image, write_mask
from deocclude.pipeline import Result
from deocclude.visualize import draw_landmarks, labelled_grid, overlay_mask

GRID_LABELS = ["aligned crop", "468 landmarks", "occlusion M_O", "restored"]


def face_grid(result: Result, cell: int = 192) -> np.ndarray:
    """One row per face: the crop, its landmarks, the occlusion mask over it, the restored crop."""
    rows = []
    for face in result.faces:
        crop = face.aligned.crop
        occlusion = face.occlusion_mask if face.occlusion_mask is not None else np.zeros(crop.shape[:2], np.float32)
        assert face.restored is not None, "Deoccluder.run sets every face's restored crop"
        rows.append([crop, draw_landmarks(crop, face.aligned.landmarks), overlay_mask(crop, occlusion), face.restored])
    return labelled_grid(rows, GRID_LABELS, cell)


def write_face_intermediates(folder: Path, result: Result) -> None:
    """Every crop and mask of every face as its own PNG (masks: 255 = occluded / face)."""
    for face in result.faces:
        stem = folder / f"face{face.index}"
        write_image(f"{stem}_crop.png", face.aligned.crop)
        write_image(f"{stem}_landmarks.png", draw_landmarks(face.aligned.crop, face.aligned.landmarks))
        write_mask(f"{stem}_valid.png", face.aligned.valid)
        write_mask(f"{stem}_face_region.png", face.face_region)
        if face.face_mask is not None:
            write_mask(f"{stem}_visible_face.png", face.face_mask)
        if face.occlusion_mask is not None:
            write_mask(f"{stem}_occlusion.png", face.occlusion_mask)
        if face.render is not None:
            write_image(f"{stem}_render.png", face.render)
        if face.restored is not None:
            write_image(f"{stem}_restored.png", face.restored)

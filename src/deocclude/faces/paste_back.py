"""Warp an edited crop back into the original photo, seamlessly.

Only pixels the edit mask marks are replaced (1 = replace), so the rest of the photo keeps
its full resolution. The mask is first grown and then feathered by an amount proportional
to the face's size in the photo, which keeps every masked pixel fully replaced while the
transition ring blends into untouched pixels (no seam).

A crop is usually smaller than the face in the photo, so pasting it back would blur what
it covers. We therefore carry the photo's own fine detail (photo − upsampled crop) over
wherever the edit left the crop unchanged, and drop it where the edit changed the content
(otherwise a ghost of the removed occluder's edges would remain). An unedited crop thus
pastes back losslessly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.faces.align import AlignedFace, crop_footprint, invert_affine, similarity_scale, to_opencv


@dataclass(frozen=True)
class PasteConfig:
    feather: float = 0.02
    """Feather sigma as a fraction of the crop's side length in photo pixels."""
    grow: float = 2.0
    """How many feather sigmas the mask is grown before feathering."""
    detail_threshold: float = 12.0
    """Change (0–255 scale) of the crop above which the photo's fine detail is dropped."""


def paste_back(
    photo: np.ndarray,
    aligned: AlignedFace,
    edited_crop: np.ndarray,
    replace_mask: np.ndarray,
    config: PasteConfig = PasteConfig(),
) -> np.ndarray:
    """Return a copy of ``photo`` with ``edited_crop`` blended in where ``replace_mask`` is 1.

    ``edited_crop`` is N×N×3 uint8 in the frame of ``aligned``; ``replace_mask`` is N×N in
    [0, 1]. Pixels of the crop that were filled (outside the photo) are never pasted.
    """
    size = aligned.size
    if edited_crop.shape != aligned.crop.shape:
        raise ValueError(f"edited crop {edited_crop.shape} does not match the aligned crop {aligned.crop.shape}")
    if replace_mask.shape != (size, size):
        raise ValueError(f"mask {replace_mask.shape} does not match the crop size {size}")
    x0, y0, x1, y1 = crop_footprint(aligned.matrix, size, photo.shape, margin=4.0)
    if x1 <= x0 or y1 <= y0:
        return photo.copy()
    crop_to_region = invert_affine(aligned.matrix)
    crop_to_region[:, 2] -= (x0, y0)
    cv_matrix = to_opencv(crop_to_region)
    region_size = (x1 - x0, y1 - y0)
    def to_region(crop: np.ndarray, border: int) -> np.ndarray:
        return cv2.warpAffine(crop, cv_matrix, region_size, flags=cv2.INTER_CUBIC if crop.ndim == 3 else cv2.INTER_LINEAR,
                              borderMode=border, borderValue=0).astype(np.float32)

    edited = to_region(edited_crop, cv2.BORDER_REPLICATE)
    original = to_region(aligned.crop, cv2.BORDER_REPLICATE)
    mask = to_region(replace_mask.astype(np.float32) * aligned.valid, cv2.BORDER_CONSTANT)
    change = to_region(np.abs(edited_crop.astype(np.float32) - aligned.crop.astype(np.float32)).max(axis=2), cv2.BORDER_CONSTANT)
    keep_detail = np.clip(1.0 - change / config.detail_threshold, 0.0, 1.0)[..., None]
    sigma = config.feather * size / similarity_scale(aligned.matrix)
    if sigma >= 0.5:
        radius = int(np.ceil(config.grow * sigma))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.GaussianBlur(cv2.dilate(mask, kernel), (0, 0), sigmaX=sigma)
    result = photo.copy()
    region = result[y0:y1, x0:x1].astype(np.float32)
    detail = region - original
    weight = np.clip(mask, 0.0, 1.0)[..., None]
    blended = region * (1.0 - weight) + (edited + keep_detail * detail) * weight
    result[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return result

"""Warp an edited crop back into the original photo, changing nothing outside the edit mask.

Only pixels the edit mask marks are replaced (1 = replace), so the rest of the photo keeps
its full resolution and stays bit-exact. The seam is hidden by fading the edit in *inside*
the mask: the weight rises from 0 at the mask's edge to 1 at ``feather`` crop pixels in. The
pipeline's M_O is already grown past the occluder (``DeoccluderConfig.dilate`` px), so the fade
lies on that margin and the occluder itself is fully replaced. An earlier design grew the mask
and feathered it outwards: pixels up to ~25 px outside the reported ``_occlusion.png``
changed by up to 91 grey levels on the wild photos (issue 15).

A crop is usually smaller than the face in the photo, so pasting it back would blur what
it covers. We therefore carry the photo's own fine detail (photo − upsampled crop) over
wherever the edit left the crop unchanged, and drop it where the edit changed the content
(otherwise a ghost of the removed occluder's edges would remain). An unedited crop thus
pastes back losslessly.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from deocclude.faces.align import AlignedFace, crop_footprint, invert_affine, similarity_scale, to_opencv


@dataclass(frozen=True)
class PasteConfig:
    feather: float = 2.0
    """Width of the fade-in inside the mask, in crop pixels (converted to photo pixels by the
    face's scale): M_O's dilation (``deocclude.masks.DEFAULT_DILATE``), so the fade covers only the
    grown rim. At 4 (the old dilation) the fade spanned the whole width of a
    glasses frame's band in M_O, and the removed frame stayed as a half-blended ghost."""
    detail_threshold: float = 12.0
    """Change (0–255 scale) of the crop above which the photo's fine detail is dropped."""
    border_feather: float = 8.0
    """Width of the fade toward the pasted crop's own border (the aligned crop's, or the working frame's), in crop
    pixels. Where M_O runs into that border (an occluder that goes on past the frame: a neck gaiter, a person in
    front, a collar taken with a mask's band) the fill ended in a straight edge, the frame's side, across the
    occluder (held-out RMFD ``0001_039``, ``0009_010``); it now fades into the photo. 0 = the mask's own feather
    alone."""
    grain: float = 1.0
    """Where the edit drops the photo's fine detail (the fill is a 128 px crop's, smooth at the photo's
    resolution), put back grain of the same strength: luminance noise whose spread is ``grain`` times that of the
    photo's own detail (photo − upsampled crop) over the skin it keeps (``grain_from``; robust: 1.4826 × MAD).
    Without it the fill is a smooth patch in a grainy photo. 0 = off; deterministic (seeded by the photo's
    unedited crop)."""
    max_grain: float = 6.0
    """Ceiling on that spread, in grey levels: a face whose 'skin' holds texture (stubble, a print S took for
    skin) must not spray noise into the fill. On RMFD's 516 photos no face reached it; at ×3 the grain matches the
    JPEG grain of the skin around the fill (``0009_015``, ``0004_022``, the large faces of ``0022_002``)."""


@dataclass(frozen=True)
class Pasted:
    """A paste's output photo and the weight it blended the edit with (photo space).

    ``weight`` is (y1 − y0, x1 − x0) float32 in [0, 1] over ``box`` = (x0, y0, x1, y1); the
    photo differs from the input only where ``weight > 0``.
    """

    photo: np.ndarray
    box: tuple[int, int, int, int]
    weight: np.ndarray

    def weight_in_photo(self) -> np.ndarray:
        """(H, W) float32 weight over the whole photo (0 outside ``box``)."""
        full = np.zeros(self.photo.shape[:2], np.float32)
        x0, y0, x1, y1 = self.box
        full[y0:y1, x0:x1] = self.weight
        return full


STRIP_PIXELS = 1 << 18
"""Pixels of the face's box blended per step: the float work of a paste is done strip by strip, so
a 3000 px face in an 80 MP photo needs a few 3 MB float strips instead of a dozen box-sized float
copies (issue 19: bounded memory). The arithmetic is elementwise, so strips change no result."""


def paste_back(
    photo: np.ndarray,
    aligned: AlignedFace,
    edited_crop: np.ndarray,
    replace_mask: np.ndarray,
    config: PasteConfig = PasteConfig(),
) -> np.ndarray:
    """Return a copy of ``photo`` with ``edited_crop`` blended in where ``replace_mask`` is 1
    (see :func:`paste_back_weighted` for the weight used)."""
    return paste_back_weighted(photo, aligned, edited_crop, replace_mask, config).photo


def paste_back_weighted(
    photo: np.ndarray,
    aligned: AlignedFace,
    edited_crop: np.ndarray,
    replace_mask: np.ndarray,
    config: PasteConfig = PasteConfig(),
    inplace: bool = False,
    grain_from: np.ndarray | None = None,
) -> Pasted:
    """Blend ``edited_crop`` into a copy of ``photo`` (``photo`` itself with ``inplace``) where
    ``replace_mask`` is 1.

    ``edited_crop`` is N×N×3 uint8 in the frame of ``aligned``; ``replace_mask`` is N×N in
    [0, 1], binarised at 0.5 after warping. Pixels of the crop that were filled (outside the
    photo) are never pasted, and no pixel outside the warped mask changes.

    Memory: nothing photo-sized is allocated (but the copy without ``inplace``); in the face's box
    the warped crops stay uint8, the weight and the crop's change are one float32 plane each, and
    the blend runs in strips of :data:`STRIP_PIXELS`. ``inplace`` lets a caller pasting several
    faces copy the photo once (``Deoccluder.paste_faces``). ``grain_from`` (N×N, 1 = skin the edit keeps) is
    where the photo's grain is measured for :attr:`PasteConfig.grain`; without it no grain is added.
    """
    size = aligned.size
    if edited_crop.shape != aligned.crop.shape:
        raise ValueError(f"edited crop {edited_crop.shape} does not match the aligned crop {aligned.crop.shape}")
    if replace_mask.shape != (size, size):
        raise ValueError(f"mask {replace_mask.shape} does not match the crop size {size}")
    result = photo if inplace else photo.copy()
    x0, y0, x1, y1 = crop_footprint(aligned.matrix, size, photo.shape, margin=4.0)
    if x1 <= x0 or y1 <= y0:
        return Pasted(result, (0, 0, 0, 0), np.zeros((0, 0), np.float32))
    crop_to_region = invert_affine(aligned.matrix)
    crop_to_region[:, 2] -= (x0, y0)
    cv_matrix = to_opencv(crop_to_region)
    region_size = (x1 - x0, y1 - y0)

    def to_region(crop: np.ndarray, border: int) -> np.ndarray:
        """The crop warped into the box, in the crop's own dtype (uint8 crops stay uint8)."""
        return cv2.warpAffine(
            crop,
            cv_matrix,
            region_size,
            flags=cv2.INTER_CUBIC if crop.ndim == 3 else cv2.INTER_LINEAR,
            borderMode=border,
            borderValue=0,
        )

    edited = to_region(edited_crop, cv2.BORDER_REPLICATE)
    original = to_region(aligned.crop, cv2.BORDER_REPLICATE)
    inside = (to_region(replace_mask.astype(np.float32) * aligned.valid, cv2.BORDER_CONSTANT) > 0.5).astype(np.uint8)
    change = to_region(
        np.abs(edited_crop.astype(np.float32) - aligned.crop.astype(np.float32)).max(axis=2), cv2.BORDER_CONSTANT
    )
    scale = similarity_scale(aligned.matrix)  # crop px -> photo px
    weight = _weight(inside, config.feather / scale)
    del inside
    if config.border_feather > 0:
        within = (to_region(np.ones((size, size), np.float32), cv2.BORDER_CONSTANT) > 0.5).astype(np.uint8)
        np.multiply(weight, _weight(within, config.border_feather / scale), out=weight)
        del within
    spread = 0.0
    if config.grain > 0 and grain_from is not None:
        spread = _grain_spread(photo[y0:y1, x0:x1], original, to_region(grain_from.astype(np.float32) * aligned.valid,
                                                                         cv2.BORDER_CONSTANT) > 0.5, config)
    # seeded by the photo's own crop, not the edit: a fill that differs by a grey level (batch size, bf16) must
    # not draw other grain
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(aligned.crop).tobytes())) if spread > 0 else None
    rows = max(1, STRIP_PIXELS // region_size[0])
    for a in range(0, region_size[1], rows):
        b = min(a + rows, region_size[1])
        strip_weight = weight[a:b]
        touched = strip_weight > 0.0
        if not touched.any():
            continue  # the blend would give back the photo's own pixels here
        target = result[y0 + a:y0 + b, x0:x1]
        region = target.astype(np.float32)
        detail = region - original[a:b].astype(np.float32)
        keep_detail = np.clip(1.0 - change[a:b] / config.detail_threshold, 0.0, 1.0)[..., None]
        carried: np.ndarray = keep_detail * detail
        if rng is not None:  # the grain the dropped detail carried, drawn afresh (the same draw for R, G and B)
            grain = rng.standard_normal(strip_weight.shape, dtype=np.float32)[..., None] * np.float32(spread)
            carried = carried + (1.0 - keep_detail) * grain
        blended = region + (edited[a:b].astype(np.float32) + carried - region) * strip_weight[..., None]
        pasted = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        target[touched] = pasted[touched]  # bit-exact outside the mask, not merely within rounding
    return Pasted(result, (x0, y0, x1, y1), weight)


def _grain_spread(photo_box: np.ndarray, original: np.ndarray, reference: np.ndarray, config: PasteConfig) -> float:
    """The spread (grey levels) of the photo's own fine detail, photo − upsampled crop in luminance, over
    ``reference`` (box-sized bool), times :attr:`PasteConfig.grain` and capped at ``max_grain``; 0 when under 64
    pixels are there to measure it."""
    if reference.sum() < 64:
        return 0.0
    detail = photo_box[reference].astype(np.float32).mean(axis=1) - original[reference].astype(np.float32).mean(axis=1)
    spread = 1.4826 * float(np.median(np.abs(detail - np.median(detail))))
    return min(config.grain * spread, config.max_grain)


def _weight(inside: np.ndarray, ramp: float) -> np.ndarray:
    """The blend weight in the box: 0 outside the mask, rising by a smoothstep over ``ramp`` photo
    pixels from the mask's edge (1 throughout when the ramp is under a pixel). Computed in place on
    one float32 plane (the distance) and one temporary."""
    if ramp >= 1.0 and inside.any():
        # distance to the nearest pixel outside the mask (or outside the crop): 1 on the mask's edge
        t = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
        np.divide(t, np.float32(ramp), out=t)
        np.clip(t, 0.0, 1.0, out=t)
        rise = 2.0 * t
        np.subtract(3.0, rise, out=rise)
        np.multiply(t, t, out=t)
        np.multiply(t, rise, out=t)  # smoothstep t * t * (3 - 2 t): no visible step at either end
        return t
    return inside.astype(np.float32)

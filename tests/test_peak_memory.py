"""Issue 19 item 3, bounded memory: huge photos are decoded, detected and pasted without photo-sized float copies.

The end-to-end number (<= 1 GB on 80 MP) is benchmarks/peak_memory.py's; these tests pin the pieces with
tracemalloc (which sees every NumPy allocation, OpenCV's outputs included) on photos small enough to stay fast,
and check that the memory-bounded code gives the very bytes the old code gave.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.faces.align import (
    align_face,
    canonical_template,
    crop_footprint,
    invert_affine,
    similarity_scale,
    to_opencv,
    warp_points,
)
from deocclude.faces.paste_back import PasteConfig, paste_back_weighted
from deocclude.imageio import read_image, write_mask

HEIGHT, WIDTH = 3000, 4000
PHOTO_FLOAT_PLANE = HEIGHT * WIDTH * 4
"""One (H, W) float32 plane of the 12 MP photo: 48 MB. The old paste held a photo copy and about a dozen
box-sized float32 arrays; the old pipeline an (H, W) float32 weight on top."""


def traced_peak(fn: Callable[[], object]) -> int:
    """Peak bytes traced while ``fn`` runs (what was allocated before does not count)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def big_face(example_photo: Path, face_px: float = 1000.0) -> tuple[np.ndarray, object, np.ndarray, np.ndarray]:
    """A 4000 x 3000 photo (the example tiled and upscaled), a face of ``face_px`` crop side aligned in it,
    a strong edit and a mask that reaches the crop's border."""
    small = read_image(example_photo)
    photo = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    scale = face_px / 128.0
    matrix = np.array([[scale, 0.0, 1500.0], [0.0, scale, 900.0]])
    aligned = align_face(photo, warp_points(matrix, canonical_template(128)), 128)
    edited = (255 - aligned.crop).astype(np.uint8)
    mask = np.zeros((128, 128), np.float32)
    mask[20:90, 10:128] = 1.0
    return photo, aligned, edited, mask


def old_paste(photo: np.ndarray, aligned, edited_crop: np.ndarray, replace_mask: np.ndarray,  # noqa: ANN001
              config: PasteConfig | None = None) -> np.ndarray:
    """paste_back_weighted as it was before issue 19 (whole-box float32 arrays): the reference for the bytes."""
    config = config or PasteConfig()
    size = aligned.size
    x0, y0, x1, y1 = crop_footprint(aligned.matrix, size, photo.shape, margin=4.0)
    crop_to_region = invert_affine(aligned.matrix)
    crop_to_region[:, 2] -= (x0, y0)
    cv_matrix = to_opencv(crop_to_region)

    def to_region(crop: np.ndarray, border: int) -> np.ndarray:
        return cv2.warpAffine(crop, cv_matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC if crop.ndim == 3
                              else cv2.INTER_LINEAR, borderMode=border, borderValue=0).astype(np.float32)

    edited = to_region(edited_crop, cv2.BORDER_REPLICATE)
    original = to_region(aligned.crop, cv2.BORDER_REPLICATE)
    inside = (to_region(replace_mask.astype(np.float32) * aligned.valid, cv2.BORDER_CONSTANT) > 0.5).astype(np.uint8)
    change = to_region(np.abs(edited_crop.astype(np.float32) - aligned.crop.astype(np.float32)).max(axis=2),
                       cv2.BORDER_CONSTANT)
    keep_detail = np.clip(1.0 - change / config.detail_threshold, 0.0, 1.0)[..., None]
    ramp = config.feather / similarity_scale(aligned.matrix)
    if ramp >= 1.0 and inside.any():
        depth = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
        t = np.clip(depth / ramp, 0.0, 1.0)
        weight = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    else:
        weight = inside.astype(np.float32)
    border = config.border_feather / similarity_scale(aligned.matrix)
    if border >= 1.0:  # the fade toward the crop's own border (PasteConfig.border_feather)
        within = (to_region(np.ones((size, size), np.float32), cv2.BORDER_CONSTANT) > 0.5).astype(np.uint8)
        t = np.clip(cv2.distanceTransform(within, cv2.DIST_L2, 5) / border, 0.0, 1.0)
        weight = weight * (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    result = photo.copy()
    region = result[y0:y1, x0:x1].astype(np.float32)
    blended = region + (edited + keep_detail * (region - original) - region) * weight[..., None]
    pasted = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    untouched = weight <= 0.0
    pasted[untouched] = result[y0:y1, x0:x1][untouched]
    result[y0:y1, x0:x1] = pasted
    return result


@pytest.mark.parametrize("face_px", [300.0, 1000.0])
def test_paste_is_byte_identical_to_the_whole_box_paste(example_photo: Path, face_px: float) -> None:
    photo, aligned, edited, mask = big_face(example_photo, face_px)
    pasted = paste_back_weighted(photo, aligned, edited, mask)
    assert np.array_equal(pasted.photo, old_paste(photo, aligned, edited, mask))
    assert pasted.photo is not photo


def test_paste_allocates_nothing_photo_sized(example_photo: Path) -> None:
    """A 1000 px face in a 12 MP photo, pasted in place: below one photo-sized float32 plane (48 MB).

    The old paste took a photo copy (36 MB) plus ~12 box-sized float32 arrays (~12 MB each here): ~180 MB."""
    photo, aligned, edited, mask = big_face(example_photo)
    target = photo.copy()
    peak = traced_peak(lambda: paste_back_weighted(target, aligned, edited, mask, inplace=True))
    box = crop_footprint(aligned.matrix, 128, photo.shape, margin=4.0)
    box_px = (box[2] - box[0]) * (box[3] - box[1])
    assert box_px > 1_000_000  # the face's box is big enough for whole-box floats to show
    assert peak < PHOTO_FLOAT_PLANE, f"paste peaked at {peak / 1e6:.1f} MB"
    # uint8 warps, three float32 planes and the strips: ~32 B per box pixel; whole-box floats were > 100
    assert peak < 40 * box_px, f"paste peaked at {peak / box_px:.1f} bytes per box pixel"
    assert not np.array_equal(target, photo)  # in place: the photo itself was pasted into


def test_paste_faces_keeps_no_photo_sized_weight(example_photo: Path) -> None:
    """Deoccluder.paste_faces: one uint8 copy of the photo (36 MB), the weights per face's box only."""
    from deocclude.pipeline import Deoccluder, DeoccluderConfig, FaceResult, Result

    photo, aligned, edited, mask = big_face(example_photo)
    face = FaceResult(index=0, detection=None, landmarks=np.zeros((468, 3), np.float32), aligned=aligned,
                      face_region=np.ones((128, 128), np.float32), occlusion_mask=mask, restored=edited)
    deoccluder = Deoccluder.__new__(Deoccluder)  # paste_faces needs only the config: no models loaded
    deoccluder.config = DeoccluderConfig()
    holder: list[Result] = []
    peak = traced_peak(lambda: holder.append(deoccluder.paste_faces(photo, [face])))
    result = holder[0]
    assert peak < photo.nbytes + PHOTO_FLOAT_PLANE, f"paste_faces peaked at {peak / 1e6:.1f} MB"
    assert np.array_equal(result.photo, old_paste(photo, aligned, edited, mask))
    changed = result.changed_mask()
    assert changed.dtype == np.bool_ and changed.shape == photo.shape[:2]
    weight = result.paste_weight
    assert weight is not None and np.array_equal(changed, weight > 0)
    assert np.array_equal(result.occlusion_mask(), changed.astype(np.float32))
    differs = np.any(result.photo != photo, axis=2)
    assert differs.any() and not (differs & ~changed).any()


def test_read_image_holds_one_decoded_copy(tmp_path: Path, example_photo: Path) -> None:
    """A JPEG is decoded once and turned to RGB in place (the old read held three decoded copies)."""
    photo, *_ = big_face(example_photo)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), photo[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    holder: list[np.ndarray] = []
    peak = traced_peak(lambda: holder.append(read_image(path)))
    assert np.array_equal(holder[0], cv2.imread(str(path))[:, :, ::-1])
    assert peak < 1.5 * photo.nbytes + path.stat().st_size, f"read_image peaked at {peak / 1e6:.1f} MB"


def test_write_mask_of_a_boolean_mask_is_the_float_masks_png(tmp_path: Path) -> None:
    mask = np.zeros((300, 400), bool)
    mask[50:200, 100:350] = True
    write_mask(tmp_path / "bool.png", mask)
    write_mask(tmp_path / "float.png", mask.astype(np.float32))
    assert (tmp_path / "bool.png").read_bytes() == (tmp_path / "float.png").read_bytes()
    soft = np.linspace(-0.2, 1.2, 400, dtype=np.float32)[None].repeat(3, 0)
    write_mask(tmp_path / "soft.png", soft)
    expected = (np.clip(soft, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    assert np.array_equal(cv2.imread(str(tmp_path / "soft.png"), cv2.IMREAD_UNCHANGED), expected)


def test_huge_photo_is_detected_on_a_reduced_copy(example_photo: Path) -> None:
    """Above ``max_pixels`` the detector sees one INTER_AREA-reduced copy; boxes come back in the photo's pixels."""
    from deocclude.faces.detect import DetectorConfig, FaceDetector, reduce_for_detection

    photo = read_image(example_photo)
    reduced, sx, sy = reduce_for_detection(photo, 60_000)
    assert reduced.shape[0] * reduced.shape[1] <= 61_000 and sx > 2.0 and sy > 2.0
    assert reduce_for_detection(photo, photo.shape[0] * photo.shape[1])[0] is photo
    full = FaceDetector()(photo)
    small = FaceDetector(config=DetectorConfig(max_pixels=60_000))(photo)
    assert full and small
    assert np.abs(full[0].box - small[0].box).max() < 0.05 * full[0].width
    assert np.abs(full[0].keypoints - small[0].keypoints).max() < 0.05 * full[0].width


def test_np_equal_by_blocks() -> None:
    from deocclude.commands.run import np_equal

    a = np.zeros((3000, 700, 3), np.uint8)
    b = a.copy()
    assert np_equal(a, b)
    b[2999, 699, 2] = 1
    assert not np_equal(a, b)
    assert not np_equal(a, b[:-1])

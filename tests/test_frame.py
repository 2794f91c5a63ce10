"""masks/frame.py: M_O goes on past the crop's edge along the occluder, and nowhere else."""

from __future__ import annotations

import numpy as np

from deocclude.masks.frame import fill_past_crop, grow_past_crop

N, OFFSET = 128, 32
M = N + 2 * OFFSET


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A skin-coloured frame with a light-blue mask over the lower face running 30 px past the crop's bottom."""
    frame = np.full((M, M, 3), (60, 40, 40), np.uint8)  # dark clothes and background
    frame[OFFSET:OFFSET + N, OFFSET + 10:OFFSET + N - 10] = (200, 160, 140)  # the face
    frame[OFFSET + 70:OFFSET + N + 30, OFFSET + 20:OFFSET + N - 20] = (150, 190, 220)  # the mask
    inner = np.zeros((N, N), np.float32)
    inner[70:, 20:N - 20] = 1  # M_O found inside the crop reaches its bottom edge
    return frame, inner


def test_the_band_under_the_jaw_goes_with_the_rest() -> None:
    frame, inner = _scene()
    outer = grow_past_crop(frame, np.ones((M, M), np.float32), inner, OFFSET, brow_row=30, dilate=0)
    assert outer.shape == (M, M) and outer.dtype == np.float32
    band = np.zeros((M, M), bool)
    band[OFFSET + N:OFFSET + N + 30, OFFSET + 20:OFFSET + N - 20] = True
    assert outer[band].mean() > 0.95  # the mask's part past the crop is found
    assert outer[OFFSET:OFFSET + N, OFFSET:OFFSET + N].sum() == 0  # nothing inside the crop
    assert outer[OFFSET + N + 35:].sum() == 0  # the clothes below stay


def test_nothing_grows_when_the_occlusion_stops_inside_the_crop_or_off_the_photo() -> None:
    frame, inner = _scene()
    inner[-10:] = 0
    assert grow_past_crop(frame, np.ones((M, M), np.float32), inner, OFFSET, 30, 0).sum() == 0
    _, inner = _scene()
    assert grow_past_crop(frame, np.zeros((M, M), np.float32), inner, OFFSET, 30, 0).sum() == 0


def test_the_fill_changes_only_the_frame_mask_and_keeps_the_restored_crop() -> None:
    frame, inner = _scene()
    outer = grow_past_crop(frame, np.ones((M, M), np.float32), inner, OFFSET, 30, 2)
    restored = np.full((N, N, 3), (190, 150, 130), np.uint8)
    edited, mask = fill_past_crop(frame, restored, inner, outer, OFFSET)
    assert np.array_equal(edited[OFFSET:OFFSET + N, OFFSET:OFFSET + N], restored)
    outside_crop = np.ones((M, M), bool)
    outside_crop[OFFSET:OFFSET + N, OFFSET:OFFSET + N] = False
    changed = np.abs(edited.astype(int) - frame.astype(int)).max(axis=2) > 0
    assert not (changed & outside_crop & (mask < 0.5)).any()
    blue = np.array([150, 190, 220])
    band = edited[OFFSET + N + 5:OFFSET + N + 25, OFFSET + 40:OFFSET + N - 40].reshape(-1, 3)
    assert np.abs(band.astype(int) - blue).sum(axis=1).min() > 40  # no mask colour left under the jaw

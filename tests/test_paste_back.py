"""Paste back: lossless round trip, edits land where the mask says, no seams."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deocclude.faces.align import align_face, canonical_template, warp_points
from deocclude.faces.paste_back import paste_back
from deocclude.imageio import read_image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def face_landmarks(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    matrix = np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])
    return warp_points(matrix, canonical_template(128))


@pytest.mark.parametrize("size", [128, 256])
@pytest.mark.parametrize("face_scale", [0.6, 1.0, 2.5])
def test_unedited_crop_round_trips_above_40_db(example_photo, size: int, face_scale: float) -> None:
    photo = read_image(example_photo)
    aligned = align_face(photo, face_landmarks(face_scale, 12.0, 120.0, 30.0), size)
    out = paste_back(photo, aligned, aligned.crop, np.ones((size, size), np.float32))
    assert out.shape == photo.shape and out is not photo
    assert psnr(out, photo) > 40.0


def test_edit_replaces_masked_pixels_and_leaves_the_rest(example_photo) -> None:
    photo = read_image(example_photo)
    aligned = align_face(photo, face_landmarks(1.2, 0.0, 150.0, 40.0), 128)
    edited = aligned.crop.copy()
    edited[40:80, 40:80] = (0, 200, 0)
    mask = np.zeros((128, 128), np.float32)
    mask[40:80, 40:80] = 1.0
    out = paste_back(photo, aligned, edited, mask)
    # centre of the square in the photo: crop (60, 60) -> photo coordinates
    inverse = np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2]
    cx, cy = warp_points(inverse, np.array([[60.0, 60.0]]))[0].astype(int)
    assert np.abs(out[cy - 5 : cy + 5, cx - 5 : cx + 5].astype(int) - (0, 200, 0)).max() <= 3  # no ghost detail
    far = np.ones(photo.shape[:2], bool)
    far[max(cy - 120, 0) : cy + 120, max(cx - 120, 0) : cx + 120] = False
    assert np.array_equal(out[far], photo[far])


def test_feathered_edge_has_no_seam(example_photo) -> None:
    """Along a line leaving the edited region, the colour changes gradually, not in one step."""
    photo = np.full((400, 400, 3), 200, np.uint8)
    aligned = align_face(photo, face_landmarks(1.5, 0.0, 100.0, 100.0), 128)
    edited = np.zeros_like(aligned.crop)
    mask = np.zeros((128, 128), np.float32)
    mask[32:96, 32:96] = 1.0
    out = paste_back(photo, aligned, edited, mask)
    row = out[out.shape[0] // 2, :, 0].astype(int)
    assert row.min() <= 2 and row.max() == 200
    assert np.abs(np.diff(row)).max() < 100  # no single step from 200 to 0
    assert ((row > 10) & (row < 190)).sum() >= 4  # the fade: at least two pixels on each side


def test_a_mask_that_runs_into_the_crops_border_fades_out_there() -> None:
    """An occluder that goes on past the crop (a neck gaiter): M_O reaches the crop's right border. The fill
    fades into the photo over ``border_feather`` crop pixels instead of ending in the crop's straight side;
    ``border_feather=0`` keeps the old 2 px step."""
    from deocclude.faces.paste_back import PasteConfig

    photo = np.full((400, 400, 3), 200, np.uint8)
    aligned = align_face(photo, face_landmarks(1.5, 0.0, 100.0, 100.0), 128)
    edited = np.zeros_like(aligned.crop)
    mask = np.zeros((128, 128), np.float32)
    mask[32:96, 64:] = 1.0  # to the crop's right border
    inverse = np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2]
    (x_edge, y_mid), (x_inner, _) = warp_points(inverse, np.array([[128.0, 64.0], [100.0, 64.0]]))
    row = paste_back(photo, aligned, edited, mask)[int(y_mid), :, 0].astype(int)
    hard = paste_back(photo, aligned, edited, mask, PasteConfig(border_feather=0.0))[int(y_mid), :, 0].astype(int)
    assert row[int(x_inner)] <= 2  # well inside: the fill, fully
    fade = (row > 10) & (row < 190)
    hard_fade = (hard > 10) & (hard < 190)
    scale = float(np.hypot(*aligned.matrix[0, :2]))  # crop px per photo px
    assert fade.sum() >= 0.8 * 8 / scale > 2 * hard_fade.sum()  # about 8 crop px of fade, not 2
    assert np.abs(np.diff(row[int(x_inner):])).max() < 40  # on the border's side: a ramp, no step


def test_photo_smaller_than_the_crop_footprint(example_photo) -> None:
    photo = read_image(example_photo)[:100, :120]
    aligned = align_face(photo, face_landmarks(1.0, 0.0, 10.0, -20.0), 128)
    out = paste_back(photo, aligned, aligned.crop, np.ones((128, 128), np.float32))
    assert out.shape == photo.shape and psnr(out, photo) > 40.0


@pytest.mark.parametrize("face_scale", [0.6, 1.0, 2.5])
def test_no_pixel_changes_outside_the_warped_mask(example_photo, face_scale: float) -> None:
    """Issue 15: the reported mask is exactly where the photo may differ (feather inside it)."""
    from deocclude.faces.paste_back import paste_back_weighted

    photo = read_image(example_photo)
    aligned = align_face(photo, face_landmarks(face_scale, 20.0, 100.0, 20.0), 128)
    edited = 255 - aligned.crop  # the strongest possible edit
    mask = np.zeros((128, 128), np.float32)
    mask[20:70, 30:128] = 1.0  # reaches the crop's border: no band may appear there either
    pasted = paste_back_weighted(photo, aligned, edited, mask)
    changed = np.abs(pasted.photo.astype(int) - photo.astype(int)).max(axis=2) > 0
    support = pasted.weight_in_photo() > 0
    assert changed.any()
    assert not (changed & ~support).any()
    # and the deep interior of the mask is fully replaced (weight 1)
    assert (pasted.weight_in_photo() >= 1.0).sum() > 0.3 * support.sum()


def test_the_fill_gets_the_photo_s_own_grain_and_nothing_outside_the_mask_changes() -> None:
    """A face three times the crop's resolution in a grainy photo: the upsampled fill is smooth, so without grain it
    is a plastic patch; with ``grain_from`` (skin the edit keeps) its fine detail has about the photo's spread, the
    draw is the same every run, and no pixel outside the mask changes. Without ``grain_from`` the paste is as it was."""
    from deocclude.faces.paste_back import PasteConfig, paste_back_weighted

    rng = np.random.default_rng(3)
    smooth = np.tile(np.linspace(90, 170, 640, dtype=np.float32), (640, 1))
    photo = np.clip(smooth[..., None] + rng.normal(0, 6.0, (640, 640, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    aligned = align_face(photo, face_landmarks(3.0, 0.0, 130.0, 100.0), 128)
    mask = np.zeros((128, 128), np.float32)
    mask[40:100, 30:100] = 1.0
    edited = aligned.crop.copy()
    edited[mask > 0.5] = (40, 40, 40)  # a flat fill, far from the photo: its detail is dropped
    skin = mask < 0.5

    def fine_detail(out: np.ndarray) -> float:
        inverse = np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2]
        cx, cy = warp_points(inverse, np.array([[65.0, 70.0]]))[0].astype(int)
        patch = out[cy - 40:cy + 40, cx - 40:cx + 40, 0].astype(np.float32)
        return float(np.std(patch - cv2.GaussianBlur(patch, (0, 0), 3.0)))

    plain = paste_back_weighted(photo, aligned, edited, mask)
    grainy = paste_back_weighted(photo, aligned, edited, mask, grain_from=skin)
    again = paste_back_weighted(photo, aligned, edited, mask, grain_from=skin)
    off = paste_back_weighted(photo, aligned, edited, mask, PasteConfig(grain=0.0), grain_from=skin)
    assert fine_detail(plain.photo) < 1.0  # the smooth patch
    assert 4.0 < fine_detail(grainy.photo) < 8.0  # the photo's grain: 6 levels, less what the blur keeps
    assert np.array_equal(grainy.photo, again.photo)
    assert np.array_equal(off.photo, plain.photo)
    changed = np.abs(grainy.photo.astype(int) - photo.astype(int)).max(axis=2) > 0
    assert not (changed & ~(grainy.weight_in_photo() > 0)).any()

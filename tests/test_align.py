"""Alignment: Umeyama, point warps, crops, validity masks, mesh rasterisation."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from deocclude.faces.align import (
    align_face,
    canonical_template,
    estimate_similarity,
    invert_affine,
    similarity_scale,
    warp_points,
)
from deocclude.faces.mesh import TRIANGLES, mesh_mask
from deocclude.imageio import read_image


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([rot, [[tx], [ty]]])


def test_umeyama_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(50, 2))
    truth = similarity(1.7, 23.0, -12.0, 40.0)
    estimated = estimate_similarity(src, warp_points(truth, src))
    np.testing.assert_allclose(estimated, truth, atol=1e-9)


def test_umeyama_never_returns_a_reflection() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, size=(30, 2))
    mirrored = src * np.array([-1.0, 1.0])
    assert np.linalg.det(estimate_similarity(src, mirrored)[:, :2]) > 0


def test_warp_points_scales_depth_and_inverts() -> None:
    matrix = similarity(2.0, 10.0, 5.0, -3.0)
    points = np.array([[10.0, 20.0, 4.0], [0.0, 0.0, -1.0]])
    warped = warp_points(matrix, points)
    np.testing.assert_allclose(warped[:, 2], points[:, 2] * 2.0)
    np.testing.assert_allclose(warp_points(invert_affine(matrix), warped), points, atol=1e-9)


@pytest.mark.parametrize("size", [128, 256])
def test_template_framing_is_a_face_in_the_crop(size: int) -> None:
    template = canonical_template(size)
    assert template.shape == (468, 2)
    assert 0.4 * size < template[:, 0].mean() < 0.6 * size
    # MediaPipe's point 1 is the nose tip, 33 / 263 the eye corners: eyes above the nose.
    assert template[33, 1] < template[1, 1] and template[263, 1] < template[1, 1]


@pytest.mark.parametrize("size", [128, 256])
def test_align_maps_landmarks_onto_the_template(example_photo, size: int) -> None:
    image = read_image(example_photo)
    truth = similarity(0.45, -15.0, 150.0, 60.0)  # canonical(128) -> photo
    photo_landmarks = warp_points(truth, canonical_template(128))
    aligned = align_face(image, photo_landmarks, size)
    assert aligned.crop.shape == (size, size, 3) and aligned.crop.dtype == np.uint8
    np.testing.assert_allclose(aligned.landmarks[:, :2], canonical_template(size), atol=1e-3)
    assert similarity_scale(aligned.matrix) == pytest.approx(size / 128 / 0.45, rel=1e-6)
    assert aligned.valid.min() > 0.99  # the face lies well inside the photo


def test_align_reports_and_fills_pixels_outside_the_photo(example_photo) -> None:
    image = read_image(example_photo)
    photo_landmarks = warp_points(similarity(1.0, 0.0, -60.0, -40.0), canonical_template(128))
    aligned = align_face(image, photo_landmarks, 128)
    outside = aligned.valid < 0.5
    assert 0.1 < outside.mean() < 0.9
    assert aligned.valid[-1, -1] == pytest.approx(1.0) and aligned.valid[0, 0] == 0.0
    # the fill is blurred reflection, not black
    assert aligned.crop[outside].mean() > 20


def test_large_face_downscale_does_not_alias() -> None:
    """A fine checkerboard shrunk 8x should average to grey, not to a moiré of black/white."""
    board = (np.indices((1600, 1600)).sum(0) % 2 * 255).astype(np.uint8)
    image = np.repeat(board[..., None], 3, axis=2)
    landmarks = warp_points(similarity(8.0, 0.0, 300.0, 300.0), canonical_template(128))
    aligned = align_face(image, landmarks, 128)
    assert aligned.crop.std() < 8.0
    assert abs(float(aligned.crop.mean()) - 127.5) < 3.0


def test_mesh_mask_covers_the_canonical_face() -> None:
    assert TRIANGLES.shape == (854, 3)
    mask = mesh_mask(canonical_template(128), 128, 128)
    assert mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    assert 0.5 < mask.mean() < 0.9
    # eyes and mouth (hole loops) are filled: the mask has no interior holes
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    assert hierarchy is None or all(h[3] < 0 for h in hierarchy[0])


def test_mesh_mask_contains_the_shared_visible_face_masks(utkface_root) -> None:
    """face_mask = mesh_mask AND NOT hair: so it must lie inside our rasterised mesh."""
    points = np.load(utkface_root / "landmarks.npz")
    names, landmarks = points["names"], points["points"]
    for i in range(0, len(names), len(names) // 12):
        stem = str(names[i])[: -len(".jpg")]
        face = cv2.imread(str(utkface_root / "face_masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 0
        ours = mesh_mask(landmarks[i], 200, 200) > 0
        assert (face & ~ours).sum() == 0, stem
        assert ours.sum() > face.sum() * 0.9


def test_template_reproduces_the_utkface_framing(utkface_root) -> None:
    """Aligning a training crop to the template at 200 px changes it by only a small similarity."""
    points = np.load(utkface_root / "landmarks.npz")
    with open(utkface_root / "index.csv", newline="") as f:
        split = [row["split"] for row in csv.DictReader(f)]
    landmarks = points["points"]
    scales, shifts = [], []
    for i in np.flatnonzero(np.array(split) == "val")[:50]:
        matrix = estimate_similarity(landmarks[i], canonical_template(200))
        scales.append(similarity_scale(matrix))
        shifts.append(np.linalg.norm(warp_points(matrix, np.array([[100.0, 100.0]])) - 100.0))
    assert abs(np.median(scales) - 1.0) < 0.05
    assert np.median(shifts) < 8.0

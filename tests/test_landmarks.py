"""The 468-point face mesh on real images: geometry, equivariance, parity with MediaPipe."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh, MeshConfig, roi_from_detection
from deocclude.faces.warp import RotatedSquare
from deocclude.imageio import read_image

RIGHT_EYE_OUTER, LEFT_EYE_OUTER, NOSE_TIP, UPPER_LIP, LOWER_LIP, CHIN, FOREHEAD = 33, 263, 1, 13, 14, 152, 10


@pytest.fixture(scope="module")
def astronaut(example_photo) -> np.ndarray:
    return read_image(example_photo)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector("short")


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh()


def _landmarks(detector, mesh, image) -> np.ndarray:
    faces = detector(image)
    assert faces, "no face detected"
    result = mesh(image, faces[:1])[0]
    assert result.present
    return result.points


def test_astronaut_mesh_geometry(detector, mesh, astronaut) -> None:
    faces = detector(astronaut)
    (lm,) = mesh(astronaut, faces)
    points = lm.points
    assert points.shape == (468, 3) and points.dtype == np.float32
    assert lm.presence > 0.9 and lm.detection is faces[0]
    face = faces[0]
    margin = 0.25 * face.width
    assert (points[:, 0] > face.x0 - margin).all() and (points[:, 0] < face.x1 + margin).all()
    assert (points[:, 1] > face.y0 - margin).all() and (points[:, 1] < face.y1 + margin).all()
    eyes_y = max(points[RIGHT_EYE_OUTER, 1], points[LEFT_EYE_OUTER, 1])
    assert points[FOREHEAD, 1] < eyes_y < points[NOSE_TIP, 1] < points[UPPER_LIP, 1] < points[CHIN, 1]
    assert points[RIGHT_EYE_OUTER, 0] < points[NOSE_TIP, 0] < points[LEFT_EYE_OUTER, 0]
    # the nose tip is the point closest to the camera (smallest z) among these
    assert points[NOSE_TIP, 2] < min(points[RIGHT_EYE_OUTER, 2], points[LEFT_EYE_OUTER, 2], points[CHIN, 2])


def test_roi_follows_eye_line(detector, astronaut) -> None:
    face = detector(astronaut)[0]
    roi = roi_from_detection(face)
    assert roi.side == pytest.approx(1.5 * max(face.width, face.height))
    dx, dy = face.keypoints[1] - face.keypoints[0]
    assert roi.rotation == pytest.approx(np.arctan2(dy, dx), abs=1e-6)


def test_mesh_translation_equivariant(detector, mesh, astronaut) -> None:
    face = detector(astronaut)[0]
    roi = roi_from_detection(face)
    base, _ = mesh.run_roi(astronaut, roi)
    shifted_image = cv2.copyMakeBorder(astronaut, 53, 11, 37, 90, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    # the same ROI, shifted: the same mesh, shifted (up to float rounding)
    shifted, _ = mesh.run_roi(shifted_image, RotatedSquare(roi.cx + 37, roi.cy + 53, roi.side, roi.rotation))
    np.testing.assert_allclose(shifted[:, :2], base[:, :2] + [37, 53], atol=0.01)
    # through the detector the box and especially the eye keypoints (hence the ROI angle)
    # move with the face's place in the 128² letterbox (here by ~30°: a ~20 px face in the
    # detector's input); the mesh mostly follows the face, a refinement pass steadies it
    base = _landmarks(detector, mesh, astronaut)
    for (top, left), limit in [((20, 20), 1.5), ((53, 37), 6.0)]:
        image = cv2.copyMakeBorder(astronaut, top, 11, left, 90, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        moved = _landmarks(detector, mesh, image)
        assert np.linalg.norm(moved[:, :2] - (base[:, :2] + [left, top]), axis=1).mean() < limit
    refine = FaceMesh(MeshConfig(refine_passes=1))
    base = _landmarks(detector, refine, astronaut)
    moved = _landmarks(detector, refine, shifted_image)
    assert np.linalg.norm(moved[:, :2] - (base[:, :2] + [37, 53]), axis=1).mean() < 2.0


@pytest.mark.parametrize("factor", [0.5, 2.0, 4.0])  # 4: both warps take the area-reduce path
def test_mesh_scale_equivariant(detector, mesh, astronaut, factor) -> None:
    base = _landmarks(detector, mesh, astronaut)
    scaled_image = cv2.resize(astronaut, None, fx=factor, fy=factor,
                              interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    scaled = _landmarks(detector, mesh, scaled_image)
    error = np.linalg.norm(scaled[:, :2] / factor - base[:, :2], axis=1)  # in original pixels
    assert error.mean() < 2.0 and np.percentile(error, 95) < 4.0
    z_error = np.abs(scaled[:, 2] / factor - base[:, 2])
    assert z_error.mean() < 2.0


def test_mesh_rotation_equivariant(detector, mesh, astronaut) -> None:
    """The same ROI turned with the photo gives the same mesh, turned (tests the ROI maths).

    Through the detector the result differs more: BlazeFace's eye keypoints on a face lying
    on its side are rough, so the ROI angle is off by tens of degrees (as in MediaPipe).
    """
    face = detector(astronaut)[0]
    roi = roi_from_detection(face)
    base, _ = mesh.run_roi(astronaut, roi)
    turned = np.ascontiguousarray(np.rot90(astronaut, 3))  # clockwise: (x, y) -> (H-1-y, x)
    turned_roi = RotatedSquare(511 - roi.cy, roi.cx, roi.side, roi.rotation + np.pi / 2)
    points, presence = mesh.run_roi(turned, turned_roi)
    expected = np.stack([511 - base[:, 1], base[:, 0]], axis=1)
    error = np.linalg.norm(points[:, :2] - expected, axis=1)
    assert presence > 0.9 and error.mean() < 0.5 and error.max() < 2.0
    np.testing.assert_allclose(points[:, 2], base[:, 2], atol=2.0)
    # through the detector: still the right face, roughly the same mesh
    faces = [f for f in detector(turned) if f.score > 0.7]
    via_detector = mesh(turned, faces[:1])[0].points
    assert np.linalg.norm(via_detector[:, :2] - expected, axis=1).mean() < 15.0


def test_empty_detections_give_empty_result(mesh, astronaut) -> None:
    assert mesh(astronaut, []) == []


def test_parity_with_mediapipe_on_utkface(utkface_root) -> None:
    """Our detect + mesh vs MediaPipe's own landmarks.npz on 20 UTKFace val crops."""
    reference = np.load(utkface_root / "landmarks.npz")
    index = {str(n): i for i, n in enumerate(reference["names"])}
    with open(utkface_root / "index.csv") as handle:
        files = [r["file"] for r in csv.DictReader(handle) if r["split"] == "val"][:20]
    detector, mesh = FaceDetector(), FaceMesh()
    errors = []
    for name in files:
        image = read_image(utkface_root / "images" / name)
        faces = detector(image)
        assert faces, f"no face in {name}"
        points = mesh(image, faces[:1])[0].points
        errors.append(np.linalg.norm(points[:, :2] - reference["points"][index[name], :, :2], axis=1))
    errors = np.concatenate(errors)
    assert errors.mean() < 0.5 and np.percentile(errors, 95) < 1.5

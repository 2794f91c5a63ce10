"""The detector's rescue (issue 15, item 6): masked faces found, nothing else added.

Bundled: the astronaut with a face mask drawn over her nose and mouth (from the clean photo's
own mesh), and the clean astronaut (the rescue must add nothing: her suit once passed as a
face). With the shared data: a real masked photo of RMFD that the detector missed before.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.faces.detect import DetectorConfig, FaceDetector, iou
from deocclude.faces.landmarks import FaceMesh, roi_from_detection
from deocclude.faces.rescue import detection_for_roi
from deocclude.faces.warp import RotatedSquare
from deocclude.imageio import read_image

FACE = np.array([180.0, 85.0, 270.0, 180.0])  # the astronaut's face, as in test_detect.py
MISSED_BEFORE = "0001_005.jpg"  # RMFD: a frontal black mask; BlazeFace's box gives mesh presence 0.38


@pytest.fixture(scope="module")
def astronaut(example_photo) -> np.ndarray:
    return read_image(example_photo)


@pytest.fixture(scope="module")
def detectors() -> tuple[FaceDetector, FaceDetector, FaceMesh]:
    """(the detector as before, with the rescue, the mesh), with the pipeline's min_score."""
    return FaceDetector(min_score=0.5, config=DetectorConfig(rescue=False)), FaceDetector(min_score=0.5), FaceMesh()


def _found(detector: FaceDetector, mesh: FaceMesh, photo: np.ndarray) -> list:
    """What ``deocclude run`` keeps: detections whose mesh is present."""
    return [m for m in mesh(photo, detector(photo)) if m.present]


def _masked(photo: np.ndarray, points: np.ndarray, colour: tuple[int, int, int], grow: float) -> np.ndarray:
    """A flat face mask: the hull of the mesh points below the nose bridge, grown about its centre."""
    low = points[points[:, 1] > points[6, 1] + 4, :2]
    hull = cv2.convexHull(low.astype(np.float32)).reshape(-1, 2)
    centre = hull.mean(0)
    out = photo.copy()
    cv2.fillConvexPoly(out, ((hull - centre) * grow + centre).astype(np.int32), colour, cv2.LINE_AA)
    return out


def test_detection_for_roi_reproduces_the_roi() -> None:
    points = np.zeros((468, 3), np.float32)
    points[:, 0] = np.linspace(100, 200, 468)
    points[:, 1] = np.linspace(50, 170, 468)[::-1]
    roi = RotatedSquare(150.0, 110.0, 180.0, 0.3)
    back = roi_from_detection(detection_for_roi(roi, points, 0.4, "short"))
    np.testing.assert_allclose([back.cx, back.cy, back.side, back.rotation], [150.0, 110.0, 180.0, 0.3], atol=1e-4)


def test_clean_astronaut_gets_nothing_more(detectors, astronaut) -> None:
    before, after, _mesh = detectors
    old, new = before(astronaut), after(astronaut)
    assert len(new) == len(old) == 1
    np.testing.assert_array_equal(new[0].box, old[0].box)  # faces found the ordinary way are untouched


@pytest.mark.parametrize(("colour", "grow"), [((30, 30, 35), 1.1), ((170, 200, 230), 1.2)], ids=["black", "light-blue"])
def test_masked_astronaut_is_found(detectors, astronaut, colour, grow) -> None:
    before, after, mesh = detectors
    points = _found(before, mesh, astronaut)[0].points
    photo = _masked(astronaut, points, colour, grow)
    assert not _found(before, mesh, photo)  # the miss this rescue is for
    found = _found(after, mesh, photo)
    assert len(found) == 1
    d = found[0].detection  # a rescued box is the mesh's box: tighter than the eye's FACE
    assert float(iou(d.box.astype(np.float64), FACE[None])[0]) > 0.4
    assert FACE[0] < (d.x0 + d.x1) / 2 < FACE[2] and FACE[1] < (d.y0 + d.y1) / 2 < FACE[3]


def test_real_masked_photo_missed_before_is_found(data_root: Path, detectors) -> None:
    path = data_root / "real_occluded" / "rmfd" / "images" / MISSED_BEFORE
    if not path.is_file():
        pytest.skip(f"RMFD photos not found at {path.parent}")
    before, after, mesh = detectors
    photo = read_image(path)
    assert not _found(before, mesh, photo)
    found = _found(after, mesh, photo)
    assert len(found) == 1
    d = found[0].detection
    # the face (forehead to chin) of this 203x256 portrait lies around x 70-135, y 55-150
    assert 60 < (d.x0 + d.x1) / 2 < 145 and 50 < (d.y0 + d.y1) / 2 < 150
    assert 40 < d.width < 140

"""The detector's rescue (issue 15, item 6): masked faces found, nothing else added.

Bundled: the astronaut with a face mask drawn over her nose and mouth (from the clean photo's
own mesh), and the clean astronaut (the rescue must add nothing: her suit once passed as a
face); every bundled example gets the same faces with and without the second detector. With the
shared data: real masked photos of RMFD that the detector (and the rescue on the mesh alone)
missed before.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.faces.detect import DetectorConfig, FaceDetection, FaceDetector, iou
from deocclude.faces.landmarks import FaceMesh, roi_from_detection
from deocclude.faces.rescue import STAGES, detection_for_roi
from deocclude.faces.rfb import SecondOpinion
from deocclude.faces.warp import RotatedSquare
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR

FACE = np.array([180.0, 85.0, 270.0, 180.0])  # the astronaut's face, as in test_detect.py
MISSED_BEFORE = "0001_005.jpg"  # RMFD: a frontal black mask; BlazeFace's box gives mesh presence 0.38
EXAMPLES = sorted((REPO_DIR / "examples").glob("*.jpg"))
MISSED_BY_MESH_ALONE = "0015_031.jpg"  # RMFD: a light-blue mask, mesh present (1.0) but not in the mirror (< 0.5)


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


def test_second_opinion_scores_a_face_not_the_background(astronaut) -> None:
    second = SecondOpinion()
    assert second(astronaut, FACE) > 0.9
    assert second(astronaut, np.array([380.0, 300.0, 470.0, 395.0])) < 0.1  # her suit and the flag
    assert second.net.priors.shape == (4420, 4)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_get_the_same_faces_with_the_second_detector(path: Path) -> None:
    photo = read_image(path)
    without = FaceDetector(min_score=0.5, config=DetectorConfig(rescue_second_opinion=False))(photo)
    found = FaceDetector(min_score=0.5)(photo)
    assert len(found) == len(without) >= 1
    for a, b in zip(found, without):
        np.testing.assert_array_equal(a.box, b.box)


def test_trace_says_where_each_candidate_stopped(astronaut) -> None:
    detector = FaceDetector(min_score=0.5)
    detector.trace = []
    detector(astronaut)
    assert detector.trace  # the suit and the flag are looked at, and dropped
    assert all(isinstance(c, FaceDetection) and stage in STAGES for c, stage in detector.trace)
    assert not any(stage.startswith("kept") for _, stage in detector.trace)


def test_real_masked_photo_missed_by_the_mesh_alone_is_found(data_root: Path) -> None:
    path = data_root / "real_occluded" / "rmfd" / "images" / MISSED_BY_MESH_ALONE
    if not path.is_file():
        pytest.skip(f"RMFD photos not found at {path.parent}")
    photo = read_image(path)
    mesh = FaceMesh()
    alone = FaceDetector(min_score=0.5, config=DetectorConfig(rescue_second_opinion=False))
    assert not _found(alone, mesh, photo)
    found = _found(FaceDetector(min_score=0.5), mesh, photo)
    assert len(found) == 1
    d = found[0].detection
    # the boy's face in this 200x200 photo lies around x 50-150, y 45-160
    assert 50 < (d.x0 + d.x1) / 2 < 150 and 45 < (d.y0 + d.y1) / 2 < 160
    assert 50 < d.width < 150
    eyes_y = found[0].points[[33, 263], 1].mean()
    assert eyes_y < found[0].points[1, 1] < found[0].points[152, 1]  # eyes above the nose tip, above the chin


def test_the_rescue_does_not_look_around_a_portrait_whose_face_is_found() -> None:
    """``rescue_below``: a found face at least a quarter of the long side wide means a portrait: the rescue
    runs no model and no mesh search (in a portrait it found only background or false faces); with
    ``rescue_below=1`` it looks as before. A photo with no face found is always looked at."""
    from deocclude.faces.rescue import rescue

    portrait = np.ascontiguousarray(read_image(REPO_DIR / "examples" / "astronaut.jpg")[0:360, 60:420])
    detector = FaceDetector()
    base = detector._detect(portrait)
    assert base and base[0].width >= 0.25 * 360
    asked: list[str] = []

    def get(name):  # noqa: ANN001, ANN202 - the detector's model getter, spied on
        asked.append(name)
        return detector._get(name)

    assert rescue(portrait, base, get, detector.mesh, DetectorConfig()) == [] and asked == []
    rescue(portrait, base, get, detector.mesh, DetectorConfig(rescue_below=1.0))
    assert asked  # the models looked again
    asked.clear()
    rescue(portrait, [], get, detector.mesh, DetectorConfig())
    assert asked  # nothing found: always looked at

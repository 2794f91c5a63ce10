"""Face detection on real images: the bundled astronaut and transformed copies of it."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from deocclude.errors import DeoccludeError
from deocclude.faces.anchors import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, generate_anchors
from deocclude.faces.detect import FaceDetection, FaceDetector, iou, weighted_nms
from deocclude.faces.tflite import read_verified_model
from deocclude.imageio import read_image
from deocclude.paths import ASSETS_DIR

# The astronaut's face in examples/astronaut.jpg (512×512), read off the image by eye:
# forehead to chin and ear to ear lie roughly inside this box.
FACE = np.array([180.0, 85.0, 270.0, 180.0])


@pytest.fixture(scope="module")
def astronaut(example_photo) -> np.ndarray:
    return read_image(example_photo)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou(np.asarray(a, np.float64), np.asarray(b, np.float64)[None])[0])


def _best_match(faces: list[FaceDetection], box: np.ndarray) -> FaceDetection:
    assert faces, "no face detected"
    return max(faces, key=lambda f: _box_iou(f.box, box))


def test_anchor_counts_match_models() -> None:
    short, full = generate_anchors(SHORT_RANGE_ANCHORS), generate_anchors(FULL_RANGE_ANCHORS)
    assert short.shape == (896, 4) and full.shape == (2304, 4)
    # first cells: 16×16 grid (2 anchors per cell), then 8×8 (6 per cell); 48×48 for full range
    np.testing.assert_allclose(short[0, :2], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[512, :2], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(short[512:518, :2], np.repeat(short[512:513, :2], 6, 0))
    np.testing.assert_allclose(full[1, :2], [1.5 / 48, 0.5 / 48])


def test_weighted_nms_averages_overlapping_boxes() -> None:
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
    kps = np.zeros((3, 6, 2))
    kps[1] += 3.0
    scores = np.array([0.9, 0.6, 0.7])
    out_b, out_k, out_s = weighted_nms(boxes, kps, scores, 0.3)
    assert len(out_s) == 2 and list(out_s) == [0.9, 0.7]
    np.testing.assert_allclose(out_b[0], [0.4, 0.4, 10.4, 10.4])  # (0*0.9 + 1*0.6) / 1.5
    np.testing.assert_allclose(out_k[0], 1.2)
    np.testing.assert_allclose(out_b[1], boxes[2])


def test_astronaut_one_face_plausible_keypoints(detector, astronaut) -> None:
    faces = detector(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    assert _box_iou(face.box, FACE) > 0.6
    kp = face.keypoints
    assert kp.shape == (6, 2) and kp.dtype == np.float32
    assert (kp[:, 0] >= face.x0 - 2).all() and (kp[:, 0] <= face.x1 + 2).all()
    right_eye, left_eye, nose, mouth = kp[0], kp[1], kp[2], kp[3]
    assert right_eye[0] < left_eye[0]  # the person's right eye is on the image's left
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]


def test_flipped_image_gives_mirrored_face(detector, astronaut) -> None:
    face = detector(astronaut)[0]
    flipped = detector(np.ascontiguousarray(astronaut[:, ::-1]))
    assert len(flipped) == 1
    mirrored = np.array([512 - face.x1, face.y0, 512 - face.x0, face.y1])
    assert _box_iou(flipped[0].box, mirrored) > 0.8


@pytest.mark.parametrize("turns", [1, 3])
def test_rotated_quarter_turn_still_detected(detector, astronaut, turns) -> None:
    image = np.ascontiguousarray(np.rot90(astronaut, turns))  # counter-clockwise quarter turns
    x0, y0, x1, y1 = FACE
    expected = np.array([y0, 512 - x1, y1, 512 - x0]) if turns == 1 else np.array([512 - y1, x0, 512 - y0, x1])
    face = _best_match(detector(image), expected)
    assert _box_iou(face.box, expected) > 0.5
    eyes_mid, mouth = face.keypoints[:2].mean(0), face.keypoints[3]
    # the face is lying on its side: eyes and mouth differ in x, not in y
    assert abs(eyes_mid[0] - mouth[0]) > 2 * abs(eyes_mid[1] - mouth[1])


def test_face_in_large_canvas(detector, astronaut) -> None:
    canvas = np.full((1500, 2500, 3), 30, np.uint8)
    canvas[900:1412, 1800:2312] = astronaut
    face = _best_match(detector(canvas), FACE + [1800, 900, 1800, 900])
    assert _box_iou(face.box, FACE + [1800, 900, 1800, 900]) > 0.5


def test_small_face_in_2000px_image_needs_full_range(astronaut) -> None:
    """A ~55 px face in a 2000 px photo (2.7% of the side): short range alone misses it."""
    small = cv2.resize(astronaut, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    canvas = np.full((2000, 2000, 3), 90, np.uint8)
    canvas[1300 : 1300 + small.shape[0], 200 : 200 + small.shape[1]] = small
    expected = FACE * 0.6 + [200, 1300, 200, 1300]
    assert not any(_box_iou(f.box, expected) > 0.3 for f in FaceDetector("short")(canvas))
    faces = FaceDetector("auto")(canvas)
    face = _best_match(faces, expected)
    assert face.model == "full" and _box_iou(face.box, expected) > 0.5


@pytest.mark.parametrize("kind", ["black", "white", "noise"])
def test_no_face_returns_empty(detector, kind) -> None:
    if kind == "noise":
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    else:
        image = np.full((300, 400, 3), 0 if kind == "black" else 255, np.uint8)
    assert detector(image) == []


def test_tiny_and_odd_shaped_images(detector) -> None:
    assert detector(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector(np.zeros((3, 900, 3), np.uint8)) == []


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32),
                                 np.zeros((0, 10, 3), np.uint8), "not an image"])
def test_bad_input_is_a_clear_error(detector, bad) -> None:
    with pytest.raises(DeoccludeError, match="image"):
        detector(bad)


def test_corrupt_or_missing_model_is_a_clear_error(tmp_path) -> None:
    shutil.copy(ASSETS_DIR / "SHA256SUMS", tmp_path / "SHA256SUMS")
    data = (ASSETS_DIR / "face_detection_short_range.tflite").read_bytes()
    (tmp_path / "face_detection_short_range.tflite").write_bytes(data[:-10] + b"0123456789")
    with pytest.raises(DeoccludeError, match="corrupt"):
        read_verified_model("face_detection_short_range.tflite", tmp_path)
    with pytest.raises(DeoccludeError, match="missing"):
        read_verified_model("face_landmark.tflite", tmp_path)
    assert read_verified_model("face_landmark.tflite") == (ASSETS_DIR / "face_landmark.tflite").read_bytes()


def test_unknown_model_name() -> None:
    with pytest.raises(DeoccludeError, match="unknown face detector model"):
        FaceDetector("medium")  # type: ignore[arg-type]

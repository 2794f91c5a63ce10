"""The one photo → aligned crops path (faces/find.py) that every command shares."""

from __future__ import annotations

import numpy as np
import pytest

from deocclude.errors import NoFaceError
from deocclude.faces.find import FaceFinder
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR


def test_finds_and_aligns_the_astronaut() -> None:
    photo = read_image(REPO_DIR / "examples" / "astronaut.jpg")
    timings: dict[str, float] = {}
    faces = FaceFinder(96)(photo, timings)
    assert len(faces) == 1
    face = faces[0]
    assert face.aligned.crop.shape == (96, 96, 3) and face.landmarks.shape == (468, 3)
    x0, y0, x1, y1 = face.detection.box
    assert x0 <= face.landmarks[1, 0] <= x1 and y0 <= face.landmarks[1, 1] <= y1  # the nose tip is in the box
    assert set(timings) == {"detect", "landmarks", "align"} and all(t > 0 for t in timings.values())


def test_largest_face_is_the_one_with_the_largest_box() -> None:
    photo = read_image(REPO_DIR / "examples" / "astronaut.jpg")
    small = np.ascontiguousarray(photo[::2, ::2])
    canvas = np.full((photo.shape[0], photo.shape[1] + small.shape[1], 3), 200, np.uint8)
    canvas[:, :photo.shape[1]] = photo
    canvas[:small.shape[0], photo.shape[1]:] = small
    finder = FaceFinder(64, largest_only=True)
    assert len(FaceFinder(64)(canvas)) == 2 and len(finder(canvas)) == 1
    assert finder.largest_face(canvas).landmarks[:, 0].max() < photo.shape[1]


def test_no_face_is_a_clear_error() -> None:
    with pytest.raises(NoFaceError, match="no face found"):
        FaceFinder().largest_face(np.full((128, 128, 3), 127, np.uint8))

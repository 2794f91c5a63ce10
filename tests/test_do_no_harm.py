"""Issue 15: do no harm — doubtful faces keep their pixels and say why; the person guard."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from deocclude.faces.align import align_face
from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.faces.person import PersonSegmenter
from deocclude.imageio import read_image
from deocclude.pipeline import Deoccluder, DeoccluderConfig


def test_person_probability_is_high_on_the_face_and_low_on_a_flat_wall(example_photo: Path) -> None:
    photo = read_image(example_photo)
    mesh = next(m for m in FaceMesh()(photo, FaceDetector()(photo)) if m.present)
    aligned = align_face(photo, mesh.points, 128)
    person = PersonSegmenter()(photo, aligned.matrix, 128)
    assert person.shape == (128, 128) and person.dtype == np.float32
    assert person[40:100, 40:90].mean() > 0.9  # the astronaut's face
    wall = np.full((400, 400, 3), (90, 110, 130), np.uint8)
    assert PersonSegmenter()(wall, np.array([[0.32, 0, 0], [0, 0.32, 0]]), 128).mean() < 0.2


def test_the_gate_leaves_a_face_on_the_background_untouched(wild_root: Path) -> None:
    """Wild ``t1``, face 1: a profile whose mesh lands on the wall (it used to get a ghost face)."""
    photo = read_image(wild_root / "insightface" / "t1.jpg")
    result = Deoccluder().run(photo)
    gated = [face for face in result.faces if face.status.startswith("untouched")]
    assert gated and "background" in gated[0].status
    for face in gated:
        assert np.array_equal(face.restored, face.aligned.crop)
    changed = np.abs(result.photo.astype(int) - photo.astype(int)).max(axis=2) > 0
    assert not (changed & (result.occlusion_mask() == 0)).any()


def test_the_gate_can_be_turned_off_and_rejects_bad_values() -> None:
    assert Deoccluder(DeoccluderConfig(max_background_share=1.0)).person is None
    from deocclude.errors import DeoccludeError

    with pytest.raises(DeoccludeError, match="max-background-share"):
        DeoccluderConfig(max_background_share=0.0)
    with pytest.raises(DeoccludeError, match="max-hidden-share"):
        DeoccluderConfig(max_hidden_share=1.5)
    with pytest.raises(DeoccludeError, match="max-other-face-share"):
        DeoccluderConfig(max_other_face_share=0.0)


def test_a_face_whose_occluder_is_another_face_is_left_untouched(data_root: Path) -> None:
    """LFW ``Amanda_Marsh_0001``, a kiss: 52 % of the man's M_O lay on her head (the hull of her landmarks, widened a
    fifth), and his fill repainted her cheek and his own mouth (19 % of her face changed). Both now keep their
    pixels; with the gate off the photo changes."""
    path = data_root / "faces" / "lfw" / "images" / "Amanda_Marsh" / "Amanda_Marsh_0001.jpg"
    if not path.is_file():
        pytest.skip(f"LFW photos not found at {path.parent}")
    photo = read_image(path)
    result = Deoccluder().run(photo)
    assert len(result.faces) == 2 and all(face.other_faces is not None for face in result.faces)
    gated = [face.status for face in result.faces if face.status != "ok"]
    assert len(gated) == 1 and "lies on another face" in gated[0]
    assert np.array_equal(result.photo, photo)
    assert not np.array_equal(Deoccluder(DeoccluderConfig(max_other_face_share=1.0)).run(photo).photo, photo)


def test_a_face_hidden_almost_whole_is_left_untouched(data_root: Path) -> None:
    """RMFD ``0012_008``: a bowed head whose crop is half background; M_O took 82 % of the face surface (86 % since
    the band also takes the mask's unsure part, session 13) and the fill painted R's face over it, eyes and all.
    Too little is left to restore it from: untouched, and the manifest says so; with the gate off it is filled."""
    path = data_root / "real_occluded" / "rmfd" / "images" / "0012_008.jpg"
    if not path.is_file():
        pytest.skip(f"RMFD photos not found at {path.parent}")
    photo = read_image(path)
    result = Deoccluder().run(photo)
    assert len(result.faces) == 1
    hidden = re.fullmatch(r"untouched: (\d+)% of the face surface is hidden \(too little of the face is left to "
                          r"restore it from\)", result.faces[0].status)
    assert hidden is not None and int(hidden.group(1)) > 75, result.faces[0].status
    assert np.array_equal(result.photo, photo)
    assert Deoccluder(DeoccluderConfig(max_hidden_share=1.0)).run(photo).faces[0].status == "ok"


def test_a_clean_face_comes_out_unchanged_and_its_hair_is_kept(example_photo: Path) -> None:
    """The bundled astronaut wears nothing over her face: no pixel may change, fringe included.
    The paper's behaviour (``remove_hair``) repaints her fringe: the parser tells hair apart."""
    photo = read_image(example_photo)
    kept = Deoccluder().run(photo)
    assert kept.faces and kept.faces[0].status == "ok"
    assert np.array_equal(kept.photo, photo) and kept.occlusion_mask().sum() == 0
    removed = Deoccluder(DeoccluderConfig(remove_hair=True)).run(photo)
    hair = removed.occlusion_mask() > 0
    assert hair.sum() > 500  # the fringe over her forehead
    assert np.abs(removed.photo[hair].astype(int) - photo[hair].astype(int)).max() > 30
    assert np.array_equal(removed.photo[~hair], photo[~hair])

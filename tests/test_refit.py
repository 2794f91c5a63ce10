"""R's refit of masked faces the 468-point mesh refuses (faces/refit.py), and its place in FaceFinder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from deocclude.faces.detect import FaceDetection, FaceDetector
from deocclude.faces.find import FaceFinder, refitted
from deocclude.faces.landmarks import LEFT_EYE, RIGHT_EYE, FaceMesh
from deocclude.faces.refit import MaskedFaceRefit, Refit, RefitConfig
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR

EXAMPLES = REPO_DIR / "examples"


@pytest.fixture(scope="module")
def refit() -> MaskedFaceRefit:
    from deocclude.reconstruct.inference import Reconstructor
    from deocclude.segment.inference import Segmenter

    return MaskedFaceRefit(Reconstructor(), Segmenter())


def _mesh_face(photo: np.ndarray):
    detection = FaceDetector()(photo)[0]
    return detection, FaceMesh()(photo, [detection])[0]


def _eyes(points: np.ndarray) -> np.ndarray:
    return np.stack([points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)])


@pytest.mark.parametrize(("name", "kept"), [("astronaut_mask.jpg", True), ("astronaut.jpg", False)])
def test_refit_lands_on_the_face_and_keeps_only_a_masked_one(refit: MaskedFaceRefit, name: str, kept: bool,
                                                             one_torch_thread: None) -> None:
    """The masked example is the clean one with a mask drawn on: the clean photo's mesh is the truth for both."""
    truth = _mesh_face(read_image(EXAMPLES / "astronaut.jpg"))[1].points
    photo = read_image(EXAMPLES / name)
    fit = refit(photo, _mesh_face(photo)[0])
    assert fit is not None and fit.points.shape == (468, 3)
    eye_distance = float(np.linalg.norm(_eyes(truth)[1] - _eyes(truth)[0]))
    # R's 468 vertices are the mesh's topology: on the same face they lie close to MediaPipe's points
    assert np.linalg.norm(fit.points[:, :2] - truth[:, :2], axis=1).mean() < 0.15 * eye_distance
    assert np.linalg.norm(_eyes(fit.points) - _eyes(truth), axis=1).max() < 0.15 * eye_distance
    assert fit.eye_face > 0.5  # the eyes are visible in both photos
    assert fit.kept is kept, fit.reason
    if not kept:
        assert "no mask" in fit.reason  # a bare lower face: the mesh's business, not the refit's


def test_refit_frames_a_masked_face_better_than_the_mesh_on_it(refit: MaskedFaceRefit) -> None:
    """Where the truth is known (the clean example's mesh), the refit's crop is nearer to it than the crop the
    mesh on the masked copy aligns: the mesh puts points on the mask."""
    from deocclude.faces.align import align_face

    truth = align_face(read_image(EXAMPLES / "astronaut.jpg"), _mesh_face(read_image(EXAMPLES / "astronaut.jpg"))[1]
                       .points).matrix
    photo = read_image(EXAMPLES / "astronaut_mask.jpg")
    detection, mesh = _mesh_face(photo)
    fit = refit(photo, detection)
    assert fit is not None
    corners = np.array([[0.0, 0.0], [128.0, 0.0], [0.0, 128.0], [128.0, 128.0]])

    def corner_error(matrix: np.ndarray) -> float:
        from deocclude.faces.align import invert_affine, warp_points

        return float(np.linalg.norm(warp_points(invert_affine(matrix), corners)
                                    - warp_points(invert_affine(truth), corners), axis=1).mean())

    assert corner_error(fit.aligned.matrix) < corner_error(align_face(photo, mesh.points).matrix)


def test_refit_refuses_what_is_not_a_face(refit: MaskedFaceRefit, one_torch_thread: None) -> None:
    """A 'detection' on the astronaut's orange suit (eye keypoints where a face would have them): S sees no eyes."""
    photo = read_image(EXAMPLES / "astronaut.jpg")
    x0, y0, side = 120.0, 330.0, 120.0
    eyes = [[x0 + 0.3 * side, y0 + 0.4 * side], [x0 + 0.7 * side, y0 + 0.4 * side]]
    keypoints = np.array(eyes + [[x0 + 0.5 * side, y0 + 0.6 * side], [x0 + 0.5 * side, y0 + 0.8 * side],
                                 [x0, y0 + 0.45 * side], [x0 + side, y0 + 0.45 * side]], np.float32)
    suit = FaceDetection(x0, y0, x0 + side, y0 + side, 0.6, keypoints, "short")
    fit = refit(photo, suit)
    assert fit is not None and not fit.kept and fit.reason


def test_too_small_a_box_is_not_tried(refit: MaskedFaceRefit) -> None:
    photo = read_image(EXAMPLES / "astronaut_mask.jpg")
    detection = _mesh_face(photo)[0]
    scale = 0.9 * RefitConfig().min_face / detection.width
    small = replace(detection, x1=detection.x0 + detection.width * scale)
    assert refit(photo, small) is None


class _Spy:
    """A refit that records what it was asked about and vouches for everything."""

    def __init__(self, inner: MaskedFaceRefit) -> None:
        self.inner, self.asked = inner, []

    def __call__(self, photo: np.ndarray, detection: FaceDetection) -> Refit | None:
        self.asked.append(detection)
        fit = self.inner(photo, detection)
        return None if fit is None else replace(fit, kept=True, reason="")


def test_finder_asks_the_refit_only_about_refused_detections(refit: MaskedFaceRefit, one_torch_thread: None) -> None:
    photo = read_image(EXAMPLES / "astronaut_mask.jpg")
    spy = _Spy(refit)
    timings: dict[str, float] = {}
    faces = FaceFinder(128, refit=spy)(photo, timings)
    assert [f.landmarks_from for f in faces] == ["mesh"] and spy.asked == [] and "refit" in timings
    # the same face offered as refused: refitted, unless a found face already covers it
    detection = faces[0].detection
    assert len(refitted(photo, [detection], [], spy)) == 1
    assert refitted(photo, [detection], [detection.box], spy) == []
    # two refused detections of one face: one face
    assert len(refitted(photo, [detection, replace(detection, x0=detection.x0 + 3)], [], spy)) == 1


def test_pipeline_wires_the_refit_and_says_where_landmarks_came_from(tmp_path: Path) -> None:
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    deoccluder = Deoccluder(DeoccluderConfig(fill="telea"))
    assert isinstance(deoccluder.finder.refit, MaskedFaceRefit)
    assert Deoccluder(DeoccluderConfig(fill="telea", refit_masked=False)).finder.refit is None
    assert deoccluder.finder.detector.config.rescue  # the rescue is on by default, --no-rescue turns it off
    assert not Deoccluder(DeoccluderConfig(fill="telea", rescue=False)).finder.detector.config.rescue
    faces = deoccluder.run(read_image(EXAMPLES / "astronaut_mask.jpg")).faces
    assert [f.landmarks_from for f in faces] == ["mesh"]
    assert deoccluder.run_aligned([faces[0].aligned.crop])[0].landmarks_from == "canonical"


def test_a_real_masked_face_the_mesh_refuses_is_found(data_root: Path, one_torch_thread: None) -> None:
    """RMFD 0012_017: BlazeFace finds the black-masked face, the mesh says no face; the refit keeps it."""
    photo = read_image(data_root / "real_occluded" / "rmfd" / "images" / "0012_017.jpg")
    assert not FaceFinder(128)(photo)
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    faces = Deoccluder(DeoccluderConfig(fill="telea")).find_faces(photo)
    assert [f.landmarks_from for f in faces] == ["R refit"]
    box = faces[0].detection.box
    eyes = _eyes(faces[0].landmarks)
    assert ((eyes >= box[:2]) & (eyes <= box[2:])).all()


def test_a_canonical_crop_gets_r_s_landmarks_nearer_its_eyes_than_the_template() -> None:
    """``run_aligned`` has no mesh: M_O's shape rules (glasses around the eyes) look around R's 468 points,
    which on the bundled clean face lie nearer the mesh's eyes than the template's do."""
    from deocclude.faces.align import canonical_template
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    deoccluder = Deoccluder(DeoccluderConfig(fill="telea"))
    face = deoccluder.run(read_image(EXAMPLES / "astronaut.jpg")).faces[0]
    truth = _eyes(face.aligned.landmarks)  # the mesh's eyes on the crop
    canonical = deoccluder.run_aligned([face.aligned.crop])[0]
    template = _eyes(canonical_template(face.aligned.crop.shape[0]))
    from_r = _eyes(canonical.aligned.landmarks)
    assert np.linalg.norm(from_r - truth, axis=1).max() < 3.0
    assert np.linalg.norm(from_r - truth, axis=1).mean() < np.linalg.norm(template - truth, axis=1).mean()

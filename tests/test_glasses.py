"""masks/glasses.py: a pair of glasses is found by its shape, whole, and only when both eyes are ringed."""

from __future__ import annotations

import cv2
import numpy as np

from deocclude.faces.landmarks import LEFT_EYE, RIGHT_EYE
from deocclude.masks.glasses import find_glasses, lone_lens

N = 128
RIGHT, LEFT = (40, 50), (88, 50)


def _landmarks() -> np.ndarray:
    """468 mesh points, all on the nose except the four that place each eye."""
    points = np.tile(np.array([64.0, 80.0, 0.0], np.float32), (468, 1))
    for indices, (x, y) in ((RIGHT_EYE, RIGHT), (LEFT_EYE, LEFT)):
        for k, (dx, dy) in zip(indices, ((-8, 0), (8, 0), (0, -3), (0, 3))):
            points[k, :2] = (x + dx, y + dy)
    return points


def _other(frame: bool = True, brows_only: bool = False, bridge: bool = True, tint: float = 0.0) -> np.ndarray:
    """P(other) of a face wearing glasses: 2 px rims at 0.6 around both eyes, joined by a bridge."""
    other = np.full((N, N), 0.02, np.float32)
    for x, y in (RIGHT, LEFT):
        if tint:
            cv2.rectangle(other, (x - 14, y - 11), (x + 14, y + 11), tint, -1)
        if brows_only:
            cv2.line(other, (x - 14, y - 16), (x + 14, y - 16), 0.6, 2)
        elif frame:
            cv2.rectangle(other, (x - 14, y - 11), (x + 14, y + 11), 0.6, 2)
    if bridge and not brows_only:
        cv2.line(other, (RIGHT[0] + 14, RIGHT[1] - 6), (LEFT[0] - 14, LEFT[1] - 6), 0.6, 2)
    return other


def test_a_frame_around_both_eyes_is_found_whole_with_clear_lenses_behind_it() -> None:
    region = np.ones((N, N), np.float32)
    glasses = find_glasses(_other(), region, _landmarks())
    assert glasses is not None and glasses.clear
    drawn = _other() > 0.5
    assert glasses.frame[drawn].mean() > 0.95  # rims and bridge
    assert glasses.lenses[RIGHT[1], RIGHT[0]] and glasses.lenses[LEFT[1], LEFT[0]]  # the eyes are behind lenses
    assert not glasses.frame[RIGHT[1], RIGHT[0]] and not (glasses.frame & glasses.lenses).any()
    assert not glasses.whole[100:].any()  # nothing below the eye band
    assert min(glasses.coverage) == 1.0 and glasses.traced


def test_a_frame_seen_in_part_is_only_suspected() -> None:
    """Rims found over half of each lens width (and the bridge): suspected, not traced whole."""
    other = _other()
    for x, _ in (RIGHT, LEFT):
        other[:, x - 14:x + 1] = np.where(other[:, x - 14:x + 1] > 0.5, 0.02, other[:, x - 14:x + 1])
    glasses = find_glasses(other, np.ones((N, N), np.float32), _landmarks())
    assert glasses is not None and not glasses.traced and 0.4 <= min(glasses.coverage) < 0.75


def test_tinted_lenses_are_not_clear() -> None:
    glasses = find_glasses(_other(tint=0.9), np.ones((N, N), np.float32), _landmarks())
    assert glasses is not None and not glasses.clear


def test_brows_alone_a_missing_bridge_or_no_landmarks_are_no_glasses() -> None:
    region = np.ones((N, N), np.float32)
    assert find_glasses(_other(brows_only=True), region, _landmarks()) is None
    assert find_glasses(_other(bridge=False), region, _landmarks()) is None
    assert find_glasses(_other(frame=False, bridge=False), region, _landmarks()) is None
    assert find_glasses(_other(), region, None) is None


def test_the_frame_is_looked_for_on_the_face_surface_only() -> None:
    """Past M_R everything is *other* (background): a frame there is no frame, and the background never
    joins the frame through the outline."""
    region = np.zeros((N, N), np.float32)
    cv2.ellipse(region, (64, 64), (56, 62), 0, 0, 360, 1.0, -1)
    other = np.maximum(_other(), 1.0 - region)
    glasses = find_glasses(other, region, _landmarks())
    assert glasses is not None
    assert not (glasses.frame & (region < 0.5)).any()
    assert find_glasses(_other(), np.zeros((N, N), np.float32), _landmarks()) is None


def test_the_pipeline_removes_the_bundled_sunglasses_whole_or_keeps_them_whole() -> None:
    """The astronaut's sunglasses: found as glasses; by default frame and tinted lenses are in M_O, with
    ``keep_glasses`` no pixel of them (nor of their rim) changes in the photo while the rest still may."""
    from deocclude.imageio import read_image
    from deocclude.paths import REPO_DIR
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    photo = read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")
    removed = Deoccluder().run(photo)
    face = removed.faces[0]
    assert face.glasses == "removed whole" and face.face_mask is not None
    glasses = find_glasses(1.0 - face.face_mask, face.face_region, face.aligned.landmarks)
    assert glasses is not None and not glasses.clear
    assert face.occlusion_mask is not None and face.occlusion_mask[glasses.frame].mean() > 0.95
    kept = Deoccluder(DeoccluderConfig(keep_glasses=True)).run(photo)
    assert kept.faces[0].glasses == "kept whole" and kept.faces[0].occlusion_mask is not None
    assert kept.faces[0].occlusion_mask[glasses.whole].max() == 0
    assert kept.occlusion_mask().sum() < removed.occlusion_mask().sum()
    changed = np.abs(kept.photo.astype(int) - photo.astype(int)).max(axis=2) > 0
    assert not (changed & (kept.occlusion_mask() == 0)).any()
    off = Deoccluder(DeoccluderConfig(glasses=False)).run(photo)
    assert off.faces[0].glasses is None


def test_keep_glasses_needs_glasses() -> None:
    import pytest

    from deocclude.errors import DeoccludeError
    from deocclude.pipeline import DeoccluderConfig

    with pytest.raises(DeoccludeError, match="keep-glasses"):
        DeoccluderConfig(glasses=False, keep_glasses=True)


SKIN, GLASS = (200, 160, 130), (80, 100, 95)


def _one_lens_seen(other_lens: tuple[int, int, int] = GLASS, seen: tuple[int, int, int] = GLASS,
                   both: bool = False, tail: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M_O, crop, P(face)) of a face whose two lenses are drawn ``seen`` (right) and ``other_lens`` (left), with
    M_O over the right lens only (``both``: over both; ``tail``: the right one's M_O runs down the cheek)."""
    crop = np.empty((N, N, 3), np.uint8)
    crop[:] = SKIN
    mask = np.zeros((N, N), np.float32)
    for (x, y), colour in ((RIGHT, seen), (LEFT, other_lens)):
        cv2.ellipse(crop, (x, y), (15, 10), 0, 0, 360, colour, -1)
    for x, y in (RIGHT, LEFT) if both else (RIGHT,):
        cv2.ellipse(mask, (x, y), (16, 11), 0, 0, 360, 1.0, -1)
    if tail:
        cv2.rectangle(mask, (RIGHT[0] - 12, RIGHT[1]), (RIGHT[0] + 12, N - 10), 1.0, -1)
    visible = np.where(mask > 0.5, 0.05, 0.98).astype(np.float32)
    return mask, crop, visible


def test_one_tinted_lens_seen_alone_is_taken_back_so_the_pair_stays_whole() -> None:
    mask, crop, visible = _one_lens_seen()
    lone = lone_lens(mask, crop, _landmarks(), visible)
    assert lone is not None and lone[mask > 0.5].all() and not lone[mask < 0.5].any()


def test_an_occluder_over_one_eye_that_is_no_lens_stays_occlusion() -> None:
    """A black patch over one eye (the other eye bare), a skin-coloured hand over one eye, both lenses seen,
    and a lens-coloured occluder that runs down the cheek are all left in M_O."""
    cases = (dict(other_lens=SKIN, seen=(20, 20, 20)), dict(seen=(195, 158, 128)), dict(both=True), dict(tail=True))
    for case in cases:
        mask, crop, visible = _one_lens_seen(**case)  # type: ignore[arg-type]
        assert lone_lens(mask, crop, _landmarks(), visible) is None, case


def test_real_sunglasses_go_with_their_frame_bar(data_root) -> None:  # noqa: ANN001
    """LFW James Cameron: S finds the dark lenses but calls most of the black frame bar face; the bar stayed
    beside the filled lenses and darkened the fill (a ghost of the removed glasses). The traced frame's pixels
    unlike the skin now go with the lenses: of the near-black pixels (luma < 50) on the face surface above the
    nose tip, 518 were left outside M_O, now 141 (his dark temples past the face and the eyes' corners)."""
    from deocclude.faces.landmarks import NOSE_TIP
    from deocclude.imageio import read_image
    from deocclude.pipeline import Deoccluder

    path = data_root / "faces" / "lfw" / "images" / "James_Cameron" / "James_Cameron_0001.jpg"
    if not path.is_file():
        import pytest

        pytest.skip(f"{path} not found")
    face = Deoccluder().run(read_image(path)).faces[0]
    assert face.glasses == "removed whole"
    luma = face.aligned.crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    upper = np.arange(luma.shape[0])[:, None] < face.aligned.landmarks[NOSE_TIP, 1]
    dark = (luma < 50) & (face.face_region > 0.5) & upper
    assert dark.sum() > 1000  # the glasses
    assert (dark & ~(face.occlusion_mask > 0.5)).sum() < 250

"""Occlusion-mask extension past M_R (masks/extend.py) on hand-made scenes with known answers,
and on the bundled sunglasses example through the whole pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from deocclude.masks.extend import extend_occlusion

N = 128
SKIN, BACKGROUND, OCCLUDER = (200, 160, 130), (120, 170, 230), (25, 25, 30)


def occlusion_extension(image, occluded, *args, **kwargs) -> np.ndarray:
    """The pixels the extension adds to ``occluded``."""
    return (extend_occlusion(image, occluded, *args, **kwargs) > 0.5) & ~(occluded > 0.5)


def _scene(bar_rows: slice = slice(60, 67), bar_cols: slice = slice(40, 121)):
    """A round face (M_R: disc of radius 50 at the centre, skin) on a blue background, with a
    dark horizontal bar from inside the face to x = 120, 6 px past M_R's right edge (x = 114)."""
    yy, xx = np.mgrid[:N, :N]
    region = ((yy - 64) ** 2 + (xx - 64) ** 2 <= 50**2).astype(np.float32)
    image = np.empty((N, N, 3), np.uint8)
    image[:] = BACKGROUND
    image[region > 0] = SKIN
    bar = np.zeros((N, N), bool)
    bar[bar_rows, bar_cols] = True
    image[bar] = OCCLUDER
    visible = region * ~bar  # S: the face is visible except under the bar
    occluded = (region > 0) & bar
    return image, occluded.astype(np.float32), region, visible.astype(np.float32), bar


def test_a_bar_crossing_the_face_outline_is_extended_to_its_end_and_no_further():
    image, occluded, region, visible, bar = _scene()
    out = extend_occlusion(image, occluded, region, visible)
    outside_bar = bar & (region == 0)
    assert outside_bar.sum() > 30
    assert out[outside_bar].min() == 1.0  # the whole outer part of the bar
    assert out[~bar].max() == 0.0  # nothing else: the blue background differs in colour
    assert np.array_equal(out[region > 0], occluded[region > 0])  # inside M_R: M_O unchanged


def test_a_background_of_another_colour_is_not_taken_even_far_from_the_face():
    image, occluded, region, visible, bar = _scene(bar_cols=slice(40, 128))
    image[:, 118:] = (240, 240, 240)  # a white wall right of the face; the bar runs over it
    image[bar] = OCCLUDER
    added = occlusion_extension(image, occluded, region, visible)
    assert added[bar & (region == 0)].all()
    assert not added[~bar].any()


def test_the_visible_face_is_never_taken():
    image, occluded, region, visible, bar = _scene()
    visible[:, 116:] = 1.0  # S says: face (e.g. an ear) right of M_R, over the bar's tip
    added = occlusion_extension(image, occluded, region, visible)
    assert not added[visible >= 0.5].any()
    assert added[bar & (region == 0)].any()  # the part between M_R and that face is still taken


def test_growth_is_bounded_by_max_distance():
    from deocclude.masks.extend import ExtendConfig

    image, occluded, region, visible, bar = _scene(bar_cols=slice(40, 128))
    added = occlusion_extension(image, occluded, region, visible, config=ExtendConfig(max_distance=0.05))
    cols = np.nonzero(added.any(axis=0))[0]
    assert cols.size and cols.max() <= 114 + 0.05 * N + 1


def test_nothing_grows_above_the_brows_where_hair_is():
    image, occluded, region, visible, bar = _scene(bar_rows=slice(12, 18))
    assert not occlusion_extension(image, occluded, region, visible).any()


def test_rims_along_the_face_outline_do_not_seed_growth():
    """M_O that is only a thin rim along M_R's border (where R overshoots the real face) grows nothing."""
    image, _, region, visible, _ = _scene(bar_cols=slice(0, 0))
    yy, xx = np.mgrid[:N, :N]
    rim = (region > 0) & ((yy - 64) ** 2 + (xx - 64) ** 2 >= 48**2) & (xx > 64)
    image[rim] = OCCLUDER
    image[(region == 0) & (xx > 100)] = OCCLUDER  # and the same colour just outside
    visible = visible * ~rim
    assert not occlusion_extension(image, rim.astype(np.float32), region, visible).any()


def test_empty_occlusion_mask_is_returned_unchanged():
    image, _, region, visible, _ = _scene()
    empty = np.zeros((N, N), np.float32)
    assert np.array_equal(extend_occlusion(image, empty, region, visible), empty)


def test_pixels_outside_the_real_photo_are_not_taken():
    image, occluded, region, visible, bar = _scene()
    valid = np.ones((N, N), np.float32)
    valid[:, 117:] = 0
    added = occlusion_extension(image, occluded, region, visible, valid)
    assert not added[:, 117:].any() and added[bar & (region == 0)].any()


@pytest.mark.usefixtures("one_torch_thread")
def test_pipeline_removes_more_of_the_sunglasses_temples_with_the_extension():
    from deocclude.imageio import read_image
    from deocclude.paths import REPO_DIR
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    photo = read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")
    changed_outside = {}
    # remove_hair: the temples run over her dark hair, which the face parser calls hair; with hair
    # kept (the default) they are kept with it (issue 15 item 5: whole occluders, still open)
    for extend in (False, True):
        config = DeoccluderConfig(extend=extend, only_largest_face=True, remove_hair=True)
        face = Deoccluder(config).run(photo).faces[0]
        if face.face_mask is None:
            pytest.skip("S's weights are not installed")
        crop = face.aligned.crop.astype(int)
        dark = crop.sum(axis=2) < 150  # the black temples (and frame)
        outside = (face.face_region < 0.5) & (face.aligned.valid > 0.5)
        changed = np.abs(face.restored.astype(int) - crop).max(axis=2) > 30
        changed_outside[extend] = int((changed & outside & dark).sum())
    assert changed_outside[True] > changed_outside[False] + 20, changed_outside


def test_run_no_extend_flag_keeps_the_papers_mask(tmp_path):
    """``deocclude run --no-extend`` replaces fewer pixels than the default (extended) run."""
    from deocclude.cli import main
    from deocclude.imageio import read_image
    from deocclude.paths import REPO_DIR

    photo = REPO_DIR / "examples" / "astronaut_sunglasses.jpg"
    assert main(["run", str(photo), "-o", str(tmp_path / "with"), "--remove-hair"]) == 0  # see the test above
    assert main(["run", str(photo), "-o", str(tmp_path / "without"), "--no-extend", "--remove-hair"]) == 0
    masks = {name: read_image(tmp_path / name / "astronaut_sunglasses_occlusion.png")[..., 0] > 127
             for name in ("with", "without")}
    assert masks["with"].sum() > masks["without"].sum()
    assert not (masks["without"] & ~masks["with"]).any()  # the extension only adds

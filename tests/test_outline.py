"""The outline band of M_O (masks/outline.py): bare rims go, occluders crossing the outline stay."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deocclude.masks.occlusion import fill_unsure_holes, grow_over_edges, grow_over_unsure, unlike_skin
from deocclude.masks.outline import drop_outline_rim, drop_shallow_rims


def _face(size: int = 128) -> np.ndarray:
    region = np.zeros((size, size), np.uint8)
    cv2.ellipse(region, (size // 2, size // 2), (40, 52), 0, 0, 360, 1, -1)
    return region


def test_a_bare_rim_along_the_outline_is_dropped() -> None:
    region = _face()
    rim = region - cv2.erode(region, np.ones((9, 9), np.uint8))  # a 4 px ring just inside the outline
    assert rim.sum() > 300
    out = drop_outline_rim(rim, region, band=7)
    assert out.dtype == np.uint8 and out.sum() == 0


def test_an_occluder_crossing_the_outline_is_kept_whole() -> None:
    """A hand coming in from the side: deep inside the face and on the rim next to it."""
    region = _face()
    hand = np.zeros_like(region)
    hand[70:95, 10:60] = 1
    hand &= region
    rim = region - cv2.erode(region, np.ones((9, 9), np.uint8))
    out = drop_outline_rim(hand | rim, region, band=7)
    assert np.array_equal(out & hand, hand)  # every hand pixel stays, its rim part included
    top_rim = rim.copy()
    top_rim[40:] = 0  # the rim far above the hand...
    assert (out & top_rim).sum() == 0  # ...goes


@pytest.mark.parametrize("band", [0, 3, 7])
def test_pixels_deep_inside_or_outside_the_face_are_never_dropped(band: int) -> None:
    region = _face()
    mask = np.zeros_like(region)
    mask[60:68, 60:68] = 1  # sunglasses lens, deep inside
    mask[0:6, 0:6] = 1  # outside M_R (the extension's business)
    out = drop_outline_rim(mask, region, band=band)
    assert np.array_equal(out, mask)


def test_band_zero_is_the_paper_mask() -> None:
    region = _face()
    rim = region - cv2.erode(region, np.ones((9, 9), np.uint8))
    assert np.array_equal(drop_outline_rim(rim, region, band=0), rim)


def test_shape_occlusion_opens_drops_the_rim_extends_then_grows_inside_the_photo() -> None:
    """The pipeline's M_O recipe: a lone pixel and the bare rim go, ``extend`` sees what is left,
    the result is grown by ``dilate`` px and cut to the real photo."""
    from deocclude.masks.occlusion import shape_occlusion

    region = _face()
    rim = region - cv2.erode(region, np.ones((9, 9), np.uint8))
    occluded = rim.copy()
    occluded[60:68, 60:68] = 1  # a lens
    occluded[30, 64] = 1  # a lone pixel (S noise)
    valid = np.ones_like(region)
    valid[:, 66:] = 0  # the photo ends here (crop past the border)
    seen = []

    def extend(mask: np.ndarray) -> np.ndarray:
        seen.append(mask.copy())
        return mask

    out = shape_occlusion(occluded, region, valid, outline_band=7, dilate=2, extend=extend)
    lens = np.zeros_like(region)
    lens[60:68, 60:68] = 1
    assert np.array_equal(seen[0], lens)  # opened, rim dropped, before growth
    assert out.dtype == np.float32
    assert out[58:70, 60:66].all() and out[60:68, 58].all()  # grown 2 px up, down and left...
    assert out[57, 62] == 0 and out[60:68, 57].sum() == 0  # ...and no further
    assert out[:, 66:].sum() == 0 and out[30, 64] == 0  # inside the photo; the lone pixel is gone


def test_a_shallow_band_under_the_chin_is_dropped_and_a_deep_mask_is_kept() -> None:
    """Where the mesh puts the chin below the real jaw, a 12 px band of neck is no occluder;
    a face mask entering from the same outline reaches 40 px deep and stays whole."""
    region = _face()
    depth = cv2.distanceTransform(region, cv2.DIST_L2, 5)
    chin = ((depth > 0) & (depth <= 12)).astype(np.uint8)
    chin[:100] = 0  # a band along the bottom of the outline
    mask = ((depth > 0) & (np.arange(128)[:, None] >= 70)).astype(np.uint8)  # chin to nose
    assert depth[chin > 0].max() <= 12 < depth[mask > 0].max()
    assert drop_shallow_rims(chin, region, min_depth=16).sum() == 0
    assert np.array_equal(drop_shallow_rims(mask, region, min_depth=16), mask)
    assert np.array_equal(drop_shallow_rims(chin, region, min_depth=0), chin)  # 0 = off


def test_a_component_that_does_not_touch_the_outline_is_never_a_rim() -> None:
    region = _face()
    lens = np.zeros_like(region)
    lens[60:66, 50:60] = 1  # small and shallow-looking, but deep inside the face
    assert np.array_equal(drop_shallow_rims(lens, region, min_depth=60), lens)


def test_unsure_holes_inside_the_occlusion_are_filled_and_sure_ones_kept() -> None:
    """A frame around two lenses: behind the grey lens S half sees the eye (P 0.7), behind the
    clear one it sees plain face (P 0.98); the background outside the frame is no hole."""
    mask = np.zeros((64, 64), np.uint8)
    cv2.rectangle(mask, (4, 20), (28, 40), 1, 3)
    cv2.rectangle(mask, (36, 20), (60, 40), 1, 3)
    visible = np.full((64, 64), 0.98, np.float32)
    visible[23:38, 7:26] = 0.7  # the grey lens
    out = fill_unsure_holes(mask, visible, min_confidence=0.9)
    assert out.dtype == np.uint8
    assert out[23:38, 7:26].all()  # grey lens filled
    assert not out[23:38, 39:58].any()  # clear lens kept
    assert not out[:15].any() and not out[50:].any()  # outside the frame untouched
    assert np.array_equal(fill_unsure_holes(mask, visible, min_confidence=0.0), mask)


def test_the_crop_edge_counts_as_outline_where_the_crop_cuts_the_chin() -> None:
    """M_R runs off the bottom of the crop: a 10 px band of neck along that edge is a rim too."""
    region = np.zeros((128, 128), np.uint8)
    cv2.ellipse(region, (64, 70), (44, 70), 0, 0, 360, 1, -1)  # the chin lies below the crop
    band = np.zeros_like(region)
    band[118:, 40:88] = 1
    band &= region
    assert drop_shallow_rims(band, region, min_depth=12.8).sum() == 0


def test_the_dilation_ring_takes_an_unsure_rim_and_leaves_sure_skin() -> None:
    """A lens with a soft shadow on its left (S hesitates: P 0.6) and a sharp edge on its right
    (clear skin: P 0.99): the ring grows over the shadow only; rim_confidence 1 is the plain disk."""
    mask = np.zeros((64, 64), np.uint8)
    mask[24:40, 24:40] = 1
    visible = np.full((64, 64), 0.99, np.float32)
    visible[24:40, 20:24] = 0.6  # the shadow left of the lens
    plain = grow_over_unsure(mask, 3, visible, rim_confidence=1.0)
    assert plain[30, 21] and plain[30, 42] and plain[21, 30]  # the disk: every side
    grown = grow_over_unsure(mask, 3, visible, rim_confidence=0.9)
    assert grown[24:40, 21:24].all()  # the shadow went with the lens
    assert not grown[30, 40:].any() and not grown[:24].any()  # sure skin kept
    assert (grown >= mask).all() and grown.dtype == np.uint8
    assert np.array_equal(grow_over_unsure(mask, 3, None, rim_confidence=0.9), plain)  # no S map: plain disk


def test_edge_growth_takes_a_shadow_beside_the_occluder_and_leaves_clear_skin() -> None:
    # skin with a gentle left-to-right shading; a dark occluder block; a 3 px shadow under it only
    x = np.linspace(0, 1, 64, dtype=np.float32)
    image = np.empty((64, 64, 3), np.float32)
    image[...] = (np.array([200, 150, 120], np.float32) * (0.85 + 0.15 * x)[None, :, None])
    image[20:30, 16:48] = 20
    image[30:33, 16:48] *= 0.6  # the occluder's shadow on the skin
    image = image.astype(np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[20:30, 16:48] = 1
    visible = np.where(mask > 0, 0.0, 0.97).astype(np.float32)  # S is sure of the shadow too
    grown = grow_over_edges(mask, 4, image, visible, min_contrast=10.0)
    assert grown[30:33, 18:46].all()  # the shadow goes with the occluder
    assert not grown[16:20, 18:46].any()  # clear skin above the sharp edge stays
    assert not grown[33:, :].any()  # and so does the skin past the shadow
    assert np.array_equal(grow_over_edges(mask, 0, image, visible), mask)  # no steps: unchanged


def test_unlike_skin_follows_shading_and_is_zero_without_sure_skin() -> None:
    image = np.repeat(np.linspace(60, 220, 64, dtype=np.float32)[None, :, None], 64, 0).repeat(3, 2).astype(np.uint8)
    visible = np.ones((64, 64), np.float32)
    keep_out = np.zeros((64, 64), bool)
    assert unlike_skin(image, keep_out, visible).max() < 6  # a smooth gradient is all "like the skin beside it"
    assert not unlike_skin(image, keep_out, np.zeros((64, 64), np.float32)).any()

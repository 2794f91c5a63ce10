"""The outline band of M_O (masks/outline.py): bare rims go, occluders crossing the outline stay."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deocclude.masks.outline import drop_outline_rim


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

"""masks/blobs.py: small blobs ringed by clear skin go, occluders that touch the outline stay."""

from __future__ import annotations

import numpy as np

from deocclude.masks.blobs import drop_skin_blobs


def _face() -> tuple[np.ndarray, np.ndarray]:
    region = np.zeros((128, 128), np.float32)
    region[16:112, 24:104] = 1.0
    return region, region.copy()  # all of M_R visible to start with


def test_a_small_blob_on_clear_skin_is_dropped_and_a_large_one_kept() -> None:
    region, visible = _face()
    visible[50:56, 40:46] = 0.1  # a 36 px highlight: 0.5 % of M_R
    visible[60:100, 40:90] = 0.1  # a 2,000 px occluder: 26 % of M_R
    occluded = (region > 0.5) & (visible < 0.5)
    kept = drop_skin_blobs(occluded, region, visible, 0.5)
    assert kept[50:56, 40:46].sum() == 0
    assert kept[60:100, 40:90].all()


def test_a_small_blob_touching_the_face_outline_is_kept() -> None:
    region, visible = _face()
    visible[16:22, 60:66] = 0.1  # on the top edge of M_R: half its ring lies outside the face
    occluded = (region > 0.5) & (visible < 0.5)
    assert drop_skin_blobs(occluded, region, visible, 0.5)[16:22, 60:66].all()


def test_zero_keeps_everything() -> None:
    region, visible = _face()
    visible[50:56, 40:46] = 0.1
    occluded = (region > 0.5) & (visible < 0.5)
    assert np.array_equal(drop_skin_blobs(occluded, region, visible, 0.5, max_blob=0.0), occluded.astype(np.uint8))

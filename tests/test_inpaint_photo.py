"""``deocclude inpaint PHOTO --mask``: faces aligned and filled where the user says, the rest by Telea, a manifest.

On the bundled astronaut photo (one face, no occluder). Whatever fill the installed weights allow, the
contract is the same: pixels change only inside the mask, and the manifest says who filled what.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.cli import main
from deocclude.imageio import read_image, write_image
from deocclude.inpaint.classical import classical_inpaint

EYE = ((203, 101), (18, 11))
"""Centre and half-axes of an ellipse over the astronaut's right eye (photo pixels; detector keypoint ~(202, 105))."""
CORNER = ((470, 470), 20)
"""A disc in the bottom-right corner, far from the face."""


def _mask(shape: tuple[int, ...], corner: bool = False) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.ellipse(mask, EYE[0], EYE[1], 0, 0, 360, 255, -1)
    if corner:
        cv2.circle(mask, CORNER[0], CORNER[1], 255, -1)
    return mask


def _inpaint(*args: str) -> int:
    return main(["inpaint", *args])


def test_eye_mask_changes_only_the_masked_pixels(example_photo: Path, tmp_path: Path) -> None:
    photo = read_image(example_photo)
    mask = _mask(photo.shape)
    write_image(tmp_path / "mask.png", mask)
    out = tmp_path / "out.png"
    assert _inpaint(str(example_photo), "--mask", str(tmp_path / "mask.png"), "-o", str(out)) == 0
    result = read_image(out)
    inside = mask > 0
    assert np.array_equal(result[~inside], photo[~inside])  # bit-identical outside the mask
    changed = np.abs(result.astype(int) - photo.astype(int)).max(axis=2) > 0
    assert changed[inside].mean() > 0.9  # the feather lies inside the mask: nearly all of it is repainted
    manifest = json.loads((tmp_path / "out.json").read_text())
    assert manifest["faces_found"] == 1
    face = manifest["faces"][0]
    assert face["status"] == "ok" and face["fill"].startswith("user mask + ")
    assert 0.0 < face["masked_share"] < 0.2
    assert manifest["hole_pixels"] == int(inside.sum())
    assert manifest["classical_fill_pixels"] == 0 and manifest["outside_faces_pixels"] == 0


def test_hole_far_from_the_face_gets_the_classical_fill(example_photo: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    photo = read_image(example_photo)
    mask = _mask(photo.shape, corner=True)
    write_image(tmp_path / "mask.png", mask)
    out = tmp_path / "out.png"
    assert _inpaint(str(example_photo), "--mask", str(tmp_path / "mask.png"), "-o", str(out), "--method", "telea") == 0
    err = capsys.readouterr().err
    assert "--method is deprecated" in err and "OpenCV Telea" in err
    result = read_image(out)
    inside = mask > 0
    assert np.array_equal(result[~inside], photo[~inside])
    corner = np.zeros_like(mask)
    cv2.circle(corner, CORNER[0], CORNER[1], 255, -1)
    assert not np.array_equal(result[corner > 0], photo[corner > 0])
    manifest = json.loads((tmp_path / "out.json").read_text())
    assert manifest["faces_found"] == 1 and manifest["fill"] == "telea"
    assert manifest["outside_faces_pixels"] == int((corner > 0).sum())
    assert manifest["classical_fill_pixels"] >= manifest["outside_faces_pixels"]
    assert manifest["faces"][0]["fill"] == "user mask + OpenCV Telea"


def test_no_face_means_all_classical(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:30] = 255
    write_image(tmp_path / "in.png", image)
    write_image(tmp_path / "mask.png", mask)
    assert _inpaint(str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.png")) == 0
    assert np.array_equal(read_image(tmp_path / "o.png"), classical_inpaint(image, mask, "telea"))
    manifest = json.loads((tmp_path / "o.json").read_text())
    assert manifest["faces_found"] == 0 and manifest["classical_fill_pixels"] == 200 == manifest["outside_faces_pixels"]


def test_bad_input_is_one_line_and_writes_nothing(example_photo: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    write_image(tmp_path / "small.png", np.zeros((100, 80), np.uint8))
    out = tmp_path / "out.png"
    assert _inpaint(str(example_photo), "--mask", str(tmp_path / "small.png"), "-o", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is 80x100 but the image is 512x512" in err
    assert not out.exists() and not (tmp_path / "out.json").exists()
    photo = tmp_path / "photo.png"
    write_image(photo, read_image(example_photo))
    write_image(tmp_path / "mask.png", _mask((512, 512)))
    assert _inpaint(str(photo), "--mask", str(tmp_path / "mask.png"), "-o", str(photo)) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert np.array_equal(read_image(photo), read_image(example_photo))


def test_aligned_crops_keep_the_crop_path(example_photo: Path, tmp_path: Path) -> None:
    """A crop is filled as before: with --aligned, and when the input is itself a canonical crop (no manifest)."""
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    crop = Deoccluder(DeoccluderConfig(device="cpu")).find_faces(read_image(example_photo))[0].aligned.crop
    hole = np.zeros(crop.shape[:2], np.uint8)
    hole[40:60, 30:60] = 255
    write_image(tmp_path / "crop.png", crop)
    write_image(tmp_path / "hole.png", hole)
    expected = classical_inpaint(crop, hole, "telea")
    for name, extra in (("flag.png", ["--aligned"]), ("auto.png", [])):
        args = [str(tmp_path / "crop.png"), "--mask", str(tmp_path / "hole.png"), "-o", str(tmp_path / name)]
        assert _inpaint(*args, "--fill", "telea", *extra) == 0
        assert np.array_equal(read_image(tmp_path / name), expected)
        assert not (tmp_path / name).with_suffix(".json").exists()

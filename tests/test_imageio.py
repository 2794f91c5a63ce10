"""read_image turns every kind of real image file into RGB uint8, or fails with one clear line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from deocclude.errors import ImageReadError
from deocclude.imageio import read_image


def test_reads_the_example_as_rgb(example_photo: Path) -> None:
    image = read_image(example_photo)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    bgr = cv2.imread(str(example_photo))
    np.testing.assert_array_equal(image, bgr[..., ::-1])


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"this is not an image\n", "not a readable image")],
)
def test_bad_files_fail_with_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)


def test_truncated_jpeg_is_rejected_or_read_without_crash(tmp_path: Path, example_photo: Path) -> None:
    data = example_photo.read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[:200])  # header only: no image data at all
    with pytest.raises(ImageReadError):
        read_image(path)


def test_sixteen_bit_grey_rgba_and_cmyk(tmp_path: Path, example_photo: Path) -> None:
    rgb = read_image(example_photo)
    grey16 = (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "grey16.png"), grey16)
    out = read_image(tmp_path / "grey16.png")
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[..., 0], cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), atol=1)

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:100, :100, 3] = 0  # transparent corner -> white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = read_image(tmp_path / "rgba.png")
    assert (out[:100, :100] == 255).all() and np.abs(out[200:, 200:].astype(int) - rgb[200:, 200:]).max() <= 1

    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    out = read_image(tmp_path / "cmyk.jpg")
    assert out.shape == (512, 512, 3)
    assert np.abs(out.astype(int) - rgb).mean() < 12


def test_exif_orientation_is_applied(tmp_path: Path, example_photo: Path) -> None:
    rgb = read_image(example_photo)[:, :400]  # not square, so a rotation shows in the shape
    stored = np.ascontiguousarray(np.rot90(rgb, k=1))  # what the camera stored (rotated)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "rotated.jpg")
    assert out.shape == rgb.shape
    assert np.abs(out.astype(int) - rgb).mean() < 6


def test_heic_gets_a_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(ImageReadError, match="HEIC/HEIF is not supported"):
        read_image(path)


def test_read_source_of_jpegs_decodes_stored_pixels_only_for_grey(tmp_path: Path, example_photo: Path) -> None:
    """Issue 19: a colour (or CMYK) JPEG's stored pixels can never be kept, so they are not decoded a second
    time; a greyscale JPEG's stored grey still is."""
    from deocclude.imageio import _plain_colour_jpeg, read_source

    rgb = read_image(example_photo)
    Image.fromarray(rgb).save(tmp_path / "rgb.jpg")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.jpg")
    for name, plain, mode in (("rgb", True, "rgb8"), ("cmyk", True, "rgb8"), ("grey", False, "grey8")):
        path = tmp_path / f"{name}.jpg"
        assert _plain_colour_jpeg(path) is plain
        source = read_source(path)
        assert source.mode == mode and source.format == "jpeg"
        assert np.array_equal(source.rgb, cv2.imread(str(path))[:, :, ::-1])
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert not _plain_colour_jpeg(tmp_path / "rgb.png")

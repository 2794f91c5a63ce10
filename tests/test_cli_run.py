"""``deocclude run`` end to end on real files, including every kind of bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.cli import main
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def photos(tmp_path: Path, example_photo: Path) -> Path:
    """A folder mixing a good photo with broken, empty, face-less and huge images."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(example_photo, folder / "astronaut.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cv2.imwrite(str(folder / "blank.png"), np.full((300, 400, 3), 128, np.uint8))
    wide = np.full((3000, 10000, 3), 90, np.uint8)  # a 10000-px photo: 30 megapixels
    wide[200:2760, 6000:8560] = cv2.resize(cv2.imread(str(example_photo)), (2560, 2560))
    cv2.imwrite(str(folder / "wide.jpg"), wide)
    return folder


def test_run_on_the_example_writes_photo_grid_and_manifest(tmp_path: Path, example_photo: Path, capsys) -> None:
    before = digest(example_photo)
    code = main(["run", str(example_photo), "-o", str(tmp_path / "out"), "--save-intermediates"])
    assert code == 0
    out = tmp_path / "out"
    result = read_image(out / "astronaut.png")
    assert result.shape == read_image(example_photo).shape
    grid = read_image(out / "astronaut_faces.png")
    assert grid.shape[0] > 100
    occlusion = read_image(out / "astronaut_occlusion.png")[..., 0]
    assert occlusion.shape == result.shape[:2] and occlusion.max() <= 255
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["files"]
    assert entry["status"] == "ok" and len(entry["faces"]) == 1
    x0, y0, x1, y1 = entry["faces"][0]["box"]
    assert 150 < (x0 + x1) / 2 < 300 and 50 < (y0 + y1) / 2 < 200  # the astronaut's face
    assert (out / "astronaut" / "face0_crop.png").is_file()
    assert digest(example_photo) == before


def test_bad_inputs_are_reported_one_line_each_and_the_rest_processed(photos: Path, tmp_path: Path, capsys) -> None:
    hashes = {p.name: digest(p) for p in photos.iterdir()}
    out = tmp_path / "out"
    code = main(["run", str(photos), str(tmp_path / "missing.jpg"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert "missing.jpg: no such file" in err
    assert "empty.jpg: empty file" in err
    assert "broken.png: not a readable image" in err
    assert "blank.png: no face found" in err
    assert (out / "astronaut.png").is_file() and (out / "wide.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    status = {Path(e["input"]).name: e["status"] for e in manifest["files"]}
    assert status["astronaut.jpg"] == "ok" and status["wide.jpg"] == "ok"
    assert status["blank.png"] == "no face" and status["empty.jpg"].startswith("error")
    assert {p.name: digest(p) for p in photos.iterdir()} == hashes  # inputs untouched


def test_output_folder_equal_to_input_folder_is_refused(photos: Path, capsys) -> None:
    hashes = {p.name: digest(p) for p in photos.iterdir()}
    assert main(["run", str(photos / "astronaut.jpg"), "-o", str(photos)]) == 2
    assert "also an input folder" in capsys.readouterr().err
    assert {p.name: digest(p) for p in photos.iterdir()} == hashes


def test_a_pattern_matching_nothing_is_an_error_not_zero_files(tmp_path: Path, capsys) -> None:
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "pattern matches no file" in err and "no input image found" in err


def test_skip_existing_and_suffix(tmp_path: Path, example_photo: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(example_photo), "-o", str(out), "--suffix", "_clean"]) == 0
    assert (out / "astronaut_clean.png").is_file()
    stamp = (out / "astronaut_clean.png").stat().st_mtime_ns
    assert main(["run", str(example_photo), "-o", str(out), "--suffix", "_clean", "--skip-existing"]) == 0
    assert (out / "astronaut_clean.png").stat().st_mtime_ns == stamp
    assert "1 skipped" in capsys.readouterr().err


def test_bad_option_values_give_one_line(tmp_path: Path, example_photo: Path, capsys) -> None:
    assert main(["run", str(example_photo), "-o", str(tmp_path / "o"), "--size", "100"]) == 2
    assert "multiple of 32" in capsys.readouterr().err


def test_sunglasses_example_is_found_and_removed(tmp_path: Path, capsys) -> None:
    """The bundled occluded example: the occlusion mask covers the glasses, and the photo changes only there."""


    photo_path = REPO_DIR / "examples" / "astronaut_sunglasses.jpg"
    assert main(["run", str(photo_path), "-o", str(tmp_path)]) == 0
    photo, result = read_image(photo_path), read_image(tmp_path / "astronaut_sunglasses.png")
    occlusion = read_image(tmp_path / "astronaut_sunglasses_occlusion.png")[..., 0] > 127
    lens = photo.astype(int).sum(axis=2) < 120  # the nearly black frames and lenses
    face_band = np.zeros_like(lens)
    face_band[100:140, 198:255] = True  # the eye band, inside the face outline (temples lie outside M_R)
    assert occlusion[lens & face_band].mean() > 0.8
    changed = np.abs(result.astype(int) - photo).max(axis=2) > 8
    assert changed[lens & face_band].mean() > 0.8
    assert changed[:60].mean() < 0.01 and changed[300:].mean() < 0.01  # background and suit untouched


def test_run_aligned_batches_faces_and_matches_one_at_a_time():
    """Aligned crops in one batch give the same masks as each crop alone (batching changes nothing)."""
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    photo = read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")
    face = Deoccluder(DeoccluderConfig(only_largest_face=True)).run(photo).faces[0]
    crops = [face.aligned.crop, face.aligned.crop[:, ::-1].copy()]
    together = Deoccluder(DeoccluderConfig(batch_size=2)).run_aligned(crops)
    alone = Deoccluder(DeoccluderConfig(batch_size=1)).run_aligned(crops)
    assert [f.status for f in together] == ["ok", "ok"]
    for a, b in zip(together, alone):
        assert a.occlusion_mask.sum() > 50  # the sunglasses are found in the aligned crop
        assert np.mean(a.occlusion_mask != b.occlusion_mask) < 0.002
        assert np.abs(a.restored.astype(int) - b.restored.astype(int)).max() <= 2
    assert together[0].detection is None and together[0].restored.shape == (128, 128, 3)

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
    result = read_image(out / "astronaut.jpg")  # the input's format kept
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
    assert (out / "astronaut.jpg").is_file() and (out / "wide.jpg").is_file()
    assert (out / "blank.png").read_bytes() == (photos / "blank.png").read_bytes()  # no face: copied as is
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
    assert (out / "astronaut_clean.jpg").is_file()
    stamp = (out / "astronaut_clean.jpg").stat().st_mtime_ns
    assert main(["run", str(example_photo), "-o", str(out), "--suffix", "_clean", "--skip-existing"]) == 0
    assert (out / "astronaut_clean.jpg").stat().st_mtime_ns == stamp
    assert "1 skipped" in capsys.readouterr().err


def test_bad_option_values_give_one_line(tmp_path: Path, example_photo: Path, capsys) -> None:
    assert main(["run", str(example_photo), "-o", str(tmp_path / "o"), "--size", "100"]) == 2
    assert "multiple of 32" in capsys.readouterr().err


def test_sunglasses_example_is_found_and_removed(tmp_path: Path, capsys) -> None:
    """The bundled occluded example: the occlusion mask covers the glasses, and the photo changes only there."""
    photo_path = REPO_DIR / "examples" / "astronaut_sunglasses.jpg"
    assert main(["run", str(photo_path), "-o", str(tmp_path), "--format", "png"]) == 0  # lossless: exact check below
    photo, result = read_image(photo_path), read_image(tmp_path / "astronaut_sunglasses.png")
    occlusion = read_image(tmp_path / "astronaut_sunglasses_occlusion.png")[..., 0] > 127
    lens = photo.astype(int).sum(axis=2) < 120  # the nearly black frames and lenses
    face_band = np.zeros_like(lens)
    face_band[100:140, 198:255] = True  # the eye band, inside the face outline (temples lie outside M_R)
    assert occlusion[lens & face_band].mean() > 0.8
    changed = np.abs(result.astype(int) - photo).max(axis=2) > 8
    assert changed[lens & face_band].mean() > 0.8
    assert changed[:60].mean() < 0.01 and changed[300:].mean() < 0.01  # background and suit untouched
    # issue 15: the written occlusion mask is exactly where pixels may change (feather included)
    assert not ((np.abs(result.astype(int) - photo).max(axis=2) > 0) & ~occlusion).any()


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


# --- error paths with real files: one line on stderr each, a non-zero exit, never a traceback ---


def error_lines(err: str) -> list[str]:
    """stderr without the final summary line."""
    return [line for line in err.splitlines() if line.strip() and "photo(s) processed" not in line]


def test_a_photo_without_a_face_is_one_line_and_exit_1(tmp_path: Path, capfd) -> None:
    blank = tmp_path / "in" / "wall.jpg"
    blank.parent.mkdir()
    cv2.imwrite(str(blank), np.full((480, 640, 3), (40, 120, 200), np.uint8))
    out = tmp_path / "out"
    assert main(["run", str(blank), "-o", str(out)]) == 1
    err = capfd.readouterr().err
    assert error_lines(err) == [f"no face: {blank}: no face found (copied unchanged)"]
    assert "0 photo(s) processed" in err and "1 failed" in err
    assert (
        out / "wall.jpg"
    ).read_bytes() == blank.read_bytes()  # --copy-unprocessed (default): the folder has every input
    [entry] = json.loads((out / "manifest.json").read_text())["files"]
    assert entry["status"] == "no face" and entry["changed"] is False and entry["output"] == str(out / "wall.jpg")
    assert main(["run", str(blank), "-o", str(tmp_path / "out2"), "--no-copy-unprocessed"]) == 1
    assert "photo not written" in capfd.readouterr().err and not (tmp_path / "out2" / "wall.jpg").exists()


def test_truncated_jpeg_and_png_are_one_line_each(tmp_path: Path, example_photo: Path, capfd) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    data = example_photo.read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    png = cv2.imencode(".png", cv2.imread(str(example_photo)))[1].tobytes()
    (folder / "cut.png").write_bytes(png[: len(png) * 2 // 3])
    (folder / "header_only.jpg").write_bytes(data[:600])
    out = tmp_path / "out"
    assert main(["run", str(folder), "-o", str(out)]) == 1
    err = capfd.readouterr().err  # capfd: libpng / libjpeg would write to the file descriptor directly
    lines = error_lines(err)
    assert len(lines) == 3 and "Traceback" not in err and "libpng" not in err
    for name in ("cut.jpg", "cut.png", "header_only.jpg"):
        assert sum(name in line and "not a readable image" in line for line in lines) == 1
    status = [e["status"] for e in json.loads((out / "manifest.json").read_text())["files"]]
    assert all(s.startswith("error") for s in status) and len(status) == 3


@pytest.fixture()
def read_only_folder(tmp_path: Path):
    """A folder this process cannot write into: chmod for ordinary users, ``chattr +i`` for root."""
    import os
    import subprocess

    folder = tmp_path / "locked"
    folder.mkdir()
    root = os.geteuid() == 0
    if root:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("running as root and chattr +i is not supported here: no read-only folder possible")
    else:
        folder.chmod(0o555)
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        pass
    else:
        pytest.skip("could not make a read-only folder here")
    yield folder
    if root:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_read_only_output_folder_is_refused_before_any_work(read_only_folder: Path, example_photo: Path, capfd) -> None:
    assert main(["run", str(example_photo), "-o", str(read_only_folder)]) == 2
    err = capfd.readouterr().err
    assert err.strip().splitlines() == [f"deocclude: error: cannot write to output folder {read_only_folder}: "
                                        + err.split(": ")[-1].strip()]
    assert "Traceback" not in err
    assert list(read_only_folder.iterdir()) == []
    # a sub-folder of it cannot be created either
    assert main(["run", str(example_photo), "-o", str(read_only_folder / "sub")]) == 2
    assert "cannot write to output folder" in capfd.readouterr().err


def test_existing_outputs_rerun_rewrites_suffix_adds_and_skip_existing_keeps(tmp_path: Path, example_photo: Path,
                                                                            capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["run", str(example_photo), "-o", str(out)]) == 0
    first = digest(out / "astronaut.jpg")
    (out / "astronaut.jpg").write_bytes(b"stale")  # a rerun without --skip-existing writes the output again
    assert main(["run", str(example_photo), "-o", str(out)]) == 0
    assert digest(out / "astronaut.jpg") == first
    assert main(["run", str(example_photo), "-o", str(out), "--suffix", "_v2"]) == 0  # new names, old files kept
    assert digest(out / "astronaut.jpg") == first and (out / "astronaut_v2.jpg").is_file()
    (out / "astronaut.jpg").write_bytes(b"kept")
    assert main(["run", str(example_photo), "-o", str(out), "--skip-existing"]) == 0
    assert (out / "astronaut.jpg").read_bytes() == b"kept"
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["files"]
    assert entry["status"] == "ok" and manifest["skipped"] == [str(example_photo)]  # the earlier complete record kept
    assert (out / "notes.txt").read_text() == "mine"
    assert "1 skipped" in capsys.readouterr().err


def test_an_output_that_cannot_be_written_fails_that_photo_only(tmp_path: Path, example_photo: Path, capfd) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(REPO_DIR / "examples" / "astronaut_sunglasses.jpg", folder / "a.jpg")  # changed: re-encoded
    shutil.copy(REPO_DIR / "examples" / "astronaut_mask.jpg", folder / "b.jpg")
    out = tmp_path / "out"
    (out / "a.jpg").mkdir(parents=True)  # a folder where a's output photo should go
    assert main(["run", str(folder), "-o", str(out), "--batch-size", "2"]) == 1
    err = capfd.readouterr().err
    lines = error_lines(err)
    assert len(lines) == 1 and "a.jpg" in lines[0] and "cannot write" in lines[0] and "Traceback" not in err
    assert (out / "b.jpg").is_file()
    status = {Path(e["input"]).name: e["status"] for e in json.loads((out / "manifest.json").read_text())["files"]}
    assert status["a.jpg"].startswith("error") and status["b.jpg"] == "ok"


def test_bad_batch_size_and_unavailable_cuda_give_one_line(tmp_path: Path, example_photo: Path, capsys) -> None:
    import torch

    assert main(["run", str(example_photo), "-o", str(tmp_path / "o"), "--batch-size", "0"]) == 2
    assert capsys.readouterr().err.strip() == "deocclude: error: --batch-size must be >= 1, got 0"
    if not torch.cuda.is_available():
        assert main(["run", str(example_photo), "-o", str(tmp_path / "o"), "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "CUDA is not available" in err


# --- --aligned, --batch-size, devices ---


def test_aligned_on_a_crop_from_a_normal_run(tmp_path: Path, capsys) -> None:
    photo = REPO_DIR / "examples" / "astronaut_sunglasses.jpg"
    assert main(["run", str(photo), "-o", str(tmp_path / "full"), "--save-intermediates"]) == 0
    crop_path = tmp_path / "full" / "astronaut_sunglasses" / "face0_crop.png"
    full = json.loads((tmp_path / "full" / "manifest.json").read_text())["files"][0]
    crop = read_image(crop_path)
    big = tmp_path / "big" / "crop256.png"  # the same crop at 256 px, run at --size 128
    big.parent.mkdir()
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(crop_path)), (256, 256), interpolation=cv2.INTER_CUBIC))
    out = tmp_path / "aligned"
    assert main(["run", str(crop_path), str(big), "-o", str(out), "--aligned", "--batch-size", "2"]) == 0
    restored = read_image(out / "face0_crop.png")
    assert restored.shape == crop.shape == (128, 128, 3)
    assert read_image(out / "crop256.png").shape == (256, 256, 3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["aligned"] is True and manifest["config"]["batch_size"] == 2
    entries = {Path(e["input"]).name: e for e in manifest["files"]}
    for entry in entries.values():
        assert entry["aligned"] is True and entry["status"] == "ok"
        [face] = entry["faces"]
        assert face["box"] is None and face["score"] is None and face["status"] == "ok"
    # the crop is the one the normal run saw: same occlusion estimate, and the same restored crop
    aligned_face = entries["face0_crop.png"]["faces"][0]
    assert abs(aligned_face["occluded_fraction"] - full["faces"][0]["occluded_fraction"]) < 0.01
    normal = read_image(tmp_path / "full" / "astronaut_sunglasses" / "face0_restored.png")
    assert np.mean(np.abs(restored.astype(int) - normal)) < 1.0
    # at 256 px only the occluded pixels change
    occlusion = read_image(out / "crop256_occlusion.png")[..., 0]
    assert occlusion.shape == (256, 256) and (occlusion > 127).mean() > 0.05
    changed = np.abs(read_image(out / "crop256.png").astype(int) - read_image(big)).max(axis=2) > 0
    assert not changed[occlusion == 0].any()


def test_aligned_refuses_a_non_square_photo_with_one_line(tmp_path: Path, capsys) -> None:
    wide = tmp_path / "in" / "wide.png"
    wide.parent.mkdir()
    cv2.imwrite(str(wide), np.zeros((100, 160, 3), np.uint8))
    assert main(["run", str(wide), "-o", str(tmp_path / "out"), "--aligned"]) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "160x100 px is not a square face crop" in lines[0]


def test_batch_size_across_photos_changes_nothing(tmp_path: Path, capsys) -> None:
    examples = REPO_DIR / "examples"
    assert main(["run", str(examples), "-o", str(tmp_path / "b1"), "--batch-size", "1"]) == 0
    assert main(["run", str(examples), "-o", str(tmp_path / "b3"), "--batch-size", "3"]) == 0
    for name in ("astronaut", "astronaut_mask", "astronaut_sunglasses"):
        one, three = read_image(tmp_path / "b1" / f"{name}.jpg"), read_image(tmp_path / "b3" / f"{name}.jpg")
        assert np.mean(np.abs(one.astype(int) - three) > 2) < 0.001
    assert "3 photo(s) processed (3 face(s))" in capsys.readouterr().err


def test_run_many_matches_run_photo_by_photo() -> None:
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    photos = [read_image(REPO_DIR / "examples" / name) for name in ("astronaut_mask.jpg", "astronaut_sunglasses.jpg")]
    deoccluder = Deoccluder(DeoccluderConfig(batch_size=4))
    together = deoccluder.run_many(photos)
    for photo, many in zip(photos, together):
        alone = deoccluder.run(photo)
        assert len(many.faces) == len(alone.faces) == 1 and many.faces[0].status == "ok"
        assert np.mean(many.faces[0].occlusion_mask != alone.faces[0].occlusion_mask) < 0.002
        assert np.abs(many.photo.astype(int) - alone.photo).max() <= 3
        assert set(many.timings) >= {"detect", "landmarks", "align", "segment", "fill", "paste"}


def test_auto_device_picks_cuda_when_present(monkeypatch) -> None:
    import torch

    from deocclude.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_fp16_only_on_cuda_and_the_cpu_path_is_fp32() -> None:
    import warnings

    import torch

    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    photo = read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")
    half, full = (
        Deoccluder(DeoccluderConfig(half=True, device="cpu")),
        Deoccluder(DeoccluderConfig(half=False, device="cpu")),
    )
    assert not half.uses_half and not full.uses_half
    a, b = half.run(photo), full.run(photo)
    assert np.array_equal(a.photo, b.photo) and np.array_equal(a.faces[0].occlusion_mask, b.faces[0].occlusion_mask)
    assert a.faces[0].coefficients.dtype == np.float32
    half.device = "cuda:0"  # what a CUDA machine would resolve: the networks then run under fp16 autocast
    assert half.uses_half
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available" on this build; only the object is checked
        context = half._autocast()
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.float16 and context.device == "cuda"

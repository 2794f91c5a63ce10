"""tools/compare_runs.py: which photos two run folders disagree on, and the zoomed pages of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import load_tool

compare_runs = load_tool("compare_runs")


def _run(folder: Path, photos: dict[str, Path], outputs: dict[str, np.ndarray], faces: dict[str, list[dict]]) -> None:
    """A run folder as `deocclude run` leaves it: outputs, their `_occlusion.png`, one manifest line per photo."""
    folder.mkdir(parents=True)
    lines = []
    for name, image in outputs.items():
        Image.fromarray(image).save(folder / name)
        occlusion = np.zeros(image.shape[:2], np.uint8)
        occlusion[20:40, 20:40] = 255
        Image.fromarray(occlusion).save(folder / (Path(name).stem + "_occlusion.png"))
        lines.append(json.dumps({"input": str(photos[name]), "output": str(folder / name), "faces": faces[name]}))
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture()
def runs(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    photos, first, second = {}, {}, {}
    for name in ("same.png", "filled.png", "gated.png"):
        image = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
        photos[name] = tmp_path / "in" / name
        photos[name].parent.mkdir(exist_ok=True)
        Image.fromarray(image).save(photos[name])
        first[name], second[name] = image.copy(), image.copy()
    second["filled.png"][25:35, 25:35] = 0  # the new code replaced 100 pixels more
    ok, untouched = {"landmarks": "mesh", "status": "ok"}, {"landmarks": "mesh", "status": "untouched: 80% hidden"}
    faces_first = {"same.png": [ok], "filled.png": [ok], "gated.png": [ok]}
    faces_second = {"same.png": [ok], "filled.png": [ok], "gated.png": [untouched]}
    _run(tmp_path / "before", photos, first, faces_first)
    _run(tmp_path / "after", photos, second, faces_second)
    return tmp_path / "before", tmp_path / "after"


def test_lists_what_differs_largest_change_first(runs: tuple[Path, Path]) -> None:
    differences = compare_runs.compare(*runs)
    assert [d.name for d in differences] == ["filled.png", "gated.png"]
    assert differences[0].changed_pixels == 100 and differences[1].changed_pixels == 0
    assert differences[1].faces_after == ["mesh: untouched: 80% hidden"]
    assert compare_runs.compare(*runs, min_pixels=100)[0].name == "gated.png"  # 100 px is not more than 100


def test_grid_pages_show_input_before_and_after_around_the_change(runs: tuple[Path, Path], tmp_path: Path) -> None:
    differences = compare_runs.compare(*runs)
    pages = compare_runs.write_grid(differences, tmp_path / "grid" / "cmp", rows_per_page=1)
    assert [p.name for p in pages] == ["cmp_0.png", "cmp_1.png"]
    page = np.asarray(Image.open(pages[0]))
    assert page.shape[0] == 18 + 260 + 6  # the name's strip, one row at the zoom height, then the gap
    assert (page[:18] < 128).any() and (page[:18] < 128).mean() < 0.2  # the name is written, on white
    assert page.shape[1] == 3 * 260  # three square cuts (20 px around the 20 px occlusion square)


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="manifest.jsonl not found"):
        compare_runs.main([str(tmp_path), str(tmp_path)])


def test_a_run_written_with_a_relative_output_folder_is_read_from_anywhere(runs: tuple[Path, Path]) -> None:
    """`deocclude run ... -o out/` records `out/NAME` in its manifest: compared from another folder, the outputs are
    found in the run's folder, not looked for (and missed) under the current one."""
    before, after = runs
    manifest = after / "manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    for record in records:
        record["output"] = str(Path("out") / Path(record["output"]).name)
    manifest.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    differences = compare_runs.compare(before, after)
    assert [d.name for d in differences] == ["filled.png", "gated.png"]
    assert differences[0].changed_pixels == 100

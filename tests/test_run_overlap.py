"""`deocclude run --overlap` (issue 19 item 2): reading ahead on a helper thread changes when photos are read,
never what is written: the same bytes, the same manifest rows in the same order, errors per photo, bounded."""

from __future__ import annotations

import argparse
import json
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.cli import main
from deocclude.commands.run import _ReadAhead, process

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VOLATILE = ("seconds", "timings", "output")


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if not p.name.startswith("manifest")}


def _rows(out: Path) -> tuple[list[dict], list[str]]:
    """manifest.json's rows without timings, and manifest.jsonl's inputs in append order."""
    rows = [{k: v for k, v in e.items() if k not in VOLATILE}
            for e in json.loads((out / "manifest.json").read_text())["files"]]
    order = [json.loads(line)["input"] for line in (out / "manifest.jsonl").read_text().splitlines()]
    return rows, order


def _same_with_and_without_overlap(inputs: Path, tmp_path: Path, *flags: str) -> None:
    """Both runs in this process, so both get the same CPU precision mode (precision.probe is cached per process)."""
    base = ["run", str(inputs), "--device", "cpu", *flags]
    codes = [main([*base, "-o", str(tmp_path / name), f"--{name}"]) for name in ("no-overlap", "overlap")]
    assert codes[0] == codes[1]
    serial, overlapped = tmp_path / "no-overlap", tmp_path / "overlap"
    expected = _outputs(serial)
    assert expected and _outputs(overlapped).keys() == expected.keys()
    for name, data in _outputs(overlapped).items():
        assert data == expected[name], name
    assert _rows(overlapped) == _rows(serial)


def test_examples_byte_identical_with_and_without_overlap(tmp_path: Path) -> None:
    """The bundled examples and a photo that is not one, one photo a chunk: the reader runs two chunks ahead."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted(EXAMPLES.glob("*.jpg")):
        shutil.copy(path, folder / path.name)
    cv2.imwrite(str(folder / "blank.png"), np.full((200, 300, 3), 128, np.uint8))  # no face: copied unchanged
    (folder / "broken.jpg").write_bytes(b"not a photo")  # this photo's error, the others go on
    _same_with_and_without_overlap(folder, tmp_path, "--batch-size", "1")
    rows, _ = _rows(tmp_path / "overlap")
    statuses = {Path(r["input"]).name: r["status"] for r in rows}
    assert statuses["blank.png"] == "no face" and statuses["broken.jpg"].startswith("error")
    assert [statuses[p.name] for p in EXAMPLES.glob("*.jpg")] == ["ok"] * 3


def test_wild_photos_byte_identical_with_and_without_overlap(wild_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted(wild_root.rglob("*.jpg"))[:6]:
        shutil.copy(path, folder / f"{path.parent.name}_{path.name}")
    _same_with_and_without_overlap(folder, tmp_path, "--batch-size", "2")


class _Counted:
    """A stand-in for _PhotoBatch: one photo a chunk; counts the photos read and not yet written."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.args = argparse.Namespace(skip_existing=False)
        self.items: list[dict] = []
        self.in_flight = self.most = 0
        self.when: dict[str, int] = {}  # photos in flight once each was read
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def prepare(self, path: Path, name: str, done: dict | None = None) -> dict:
        if name == self.fail_on:
            raise RuntimeError("a bug in prepare")
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.when[name] = self.in_flight
        return {"entry": {"input": str(path)}}

    def full(self, items: list[dict] | None = None) -> bool:
        return bool(items if items is not None else self.items)

    def finish(self) -> list[dict]:
        entries = [item["entry"] for item in self.items]
        with self.lock:
            self.in_flight -= len(self.items)
        self.items = []
        return entries


def _photos(folder: Path, sides: list[int]) -> list[tuple[Path, str, None]]:
    folder.mkdir()
    jobs = []
    for i, side in enumerate(sides):
        path = folder / f"p{i}.png"
        cv2.imwrite(str(path), np.zeros((side, side, 3), np.uint8))
        jobs.append((path, f"p{i}", None))
    return jobs


def test_refit_faces_byte_identical_with_and_without_overlap(data_root: Path, tmp_path: Path) -> None:
    """Masked faces the mesh refuses are refitted with R, S and the 68-point network on the read-ahead thread:
    the same bytes as the serial path (RMFD photos whose faces come from the refit)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("0012_017.jpg", "0012_014.jpg"):
        (folder / name).write_bytes((data_root / "real_occluded" / "rmfd" / "images" / name).read_bytes())
    _same_with_and_without_overlap(folder, tmp_path, "--batch-size", "2")
    assert '"R refit"' in (tmp_path / "overlap" / "manifest.json").read_text()


def test_read_ahead_holds_at_most_its_pixel_budget_and_a_large_photo_alone(tmp_path: Path) -> None:
    """Budget: two 100 x 100 photos. The 150 x 150 one is over it: read only when nothing else is in flight, and
    nothing is read while it is."""
    jobs = _photos(tmp_path / "in", [100, 100, 100, 150, 100, 100])
    pending, entries = _Counted(), []
    with _ReadAhead(pending, jobs, lambda: None, budget=20_000) as ahead:
        for chunk, pixels in ahead:
            pending.items = chunk
            entries += pending.finish()
            ahead.release(pixels)
    assert [e["input"] for e in entries] == [str(path) for path, _, _ in jobs]  # input order
    assert pending.most <= 2 and pending.when["p3"] == 1 and pending.when["p4"] == 1
    assert ahead._held == 0


def test_a_bug_on_the_read_ahead_thread_is_raised_in_the_caller_and_the_thread_ends(tmp_path: Path) -> None:
    jobs = _photos(tmp_path / "in", [32, 32, 32, 32])
    pending, entries = _Counted(fail_on="p2"), []
    with pytest.raises(RuntimeError, match="a bug in prepare"):
        process(pending, jobs, entries.extend, overlap=True)  # type: ignore[arg-type]
    assert [Path(e["input"]).name for e in entries] == ["p0.png", "p1.png"]
    assert not [t for t in threading.enumerate() if t.name == "deocclude-read-ahead"]

"""Which photos two `deocclude run` output folders disagree on, and a zoomed picture of each.

    .venv/bin/python tools/compare_runs.py BEFORE AFTER --grid /tmp/cmp

Every change to masks or fills is judged on real photos by looking at what it changed (README: judge on real
material). Run the same photos with the code before and after (``deocclude run PHOTOS -o BEFORE`` from a worktree of
the old commit, ``-o AFTER`` from the new one); this lists, from the two folders' ``manifest.jsonl``, every photo whose
faces (count, where the landmarks came from, status) or output pixels differ (more than ``--min-pixels`` pixels by
more than ``--level`` grey levels in some channel), largest change first, and with ``--grid`` writes PNG pages of
``input | before | after``, each cut around what either run replaced (both ``_occlusion.png`` files) and what changed,
at the photo's own resolution scaled to one height: the scale at which a strip of mask left under a chin shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Difference:
    """One photo the two runs disagree on: its name, input path, output paths, changed pixels and face summaries."""

    name: str
    input: Path
    before: Path
    after: Path
    changed_pixels: int
    faces_before: list[str]
    faces_after: list[str]


def read_manifest(folder: Path) -> dict[str, dict]:
    """The run's manifest records by input file name (a run writes one ``manifest.jsonl`` line per photo)."""
    path = folder / "manifest.jsonl"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found (is {folder} a `deocclude run` output folder?)")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {Path(r["input"]).name: r for r in records if "input" in r}


def faces_summary(record: dict) -> list[str]:
    """One short string per face: where its landmarks came from and its status."""
    return [f"{f.get('landmarks', '?')}: {f.get('status', '?')}" for f in record.get("faces", [])]


def _rgb(path: Path) -> np.ndarray | None:
    return np.asarray(Image.open(path).convert("RGB")) if path.is_file() else None


def changed_pixels(first: np.ndarray | None, second: np.ndarray | None, level: int) -> np.ndarray | None:
    """(H, W) bool: pixels whose channels differ by more than ``level``; None when an image is missing or the sizes
    differ (a change in itself)."""
    if first is None or second is None or first.shape != second.shape:
        return None
    return np.abs(first.astype(np.int16) - second.astype(np.int16)).max(axis=-1) > level


def compare(before: Path, after: Path, level: int = 8, min_pixels: int = 20) -> list[Difference]:
    """The photos of both runs that differ, largest change first (photos only one run has count as changed)."""
    first, second = read_manifest(before), read_manifest(after)
    found = []
    for name in sorted(set(first) | set(second)):
        a, b = first.get(name), second.get(name)
        faces_a, faces_b = faces_summary(a or {}), faces_summary(b or {})
        out_a, out_b = _output(before, a, name), _output(after, b, name)
        diff = changed_pixels(_rgb(out_a), _rgb(out_b), level)
        count = -1 if diff is None else int(diff.sum())
        if count == -1 or count > min_pixels or faces_a != faces_b:
            found.append(Difference(name, Path((a or b or {})["input"]), out_a, out_b, count, faces_a, faces_b))
    return sorted(found, key=lambda d: -d.changed_pixels)


def _output(folder: Path, record: dict | None, name: str) -> Path:
    """Where a run wrote a photo's output: the manifest's path, or, when that does not resolve from here (a run
    given a relative ``-o``, compared from another folder), the file of that name in the run's folder."""
    written = Path(record["output"]) if record and record.get("output") else folder / name
    return written if written.is_file() else folder / written.name


def _occlusion(output: Path) -> np.ndarray | None:
    mask = output.with_name(output.stem + "_occlusion.png")
    return np.asarray(Image.open(mask).convert("L")) > 0 if mask.is_file() else None


def zoom_row(difference: Difference, level: int = 8, height: int = 260, pad: int = 20) -> np.ndarray | None:
    """``input | before | after`` around what either run replaced or what changed, scaled to ``height``, under a
    strip with the photo's name (the verdicts in results files name photos); None when the input is unreadable or
    nothing marks a region."""
    photo = _rgb(difference.input)
    if photo is None:
        return None
    outputs = [_rgb(difference.before), _rgb(difference.after)]
    outputs = [o if o is not None and o.shape == photo.shape else photo for o in outputs]
    region = np.zeros(photo.shape[:2], bool)
    for mask in (_occlusion(difference.before), _occlusion(difference.after)):
        if mask is not None and mask.shape == region.shape:
            region |= mask
    diff = changed_pixels(outputs[0], outputs[1], level)
    if diff is not None:
        region |= diff
    if not region.any():
        return None
    ys, xs = np.nonzero(region)
    h, w = region.shape
    y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, h)
    x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, w)
    row = np.concatenate([image[y0:y1, x0:x1] for image in (photo, *outputs)], axis=1)
    scale = height / row.shape[0]
    row = np.asarray(Image.fromarray(row).resize((max(1, round(row.shape[1] * scale)), height), Image.LANCZOS))
    caption = np.full((18, row.shape[1], 3), 255, np.uint8)
    cv2.putText(caption, difference.name, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([caption, row])


def write_grid(differences: list[Difference], prefix: Path, level: int = 8, rows_per_page: int = 3) -> list[Path]:
    """PNG pages ``<prefix>_<k>.png`` of :func:`zoom_row` rows, ``rows_per_page`` each, white between rows."""
    rows = [row for row in (zoom_row(d, level) for d in differences) if row is not None]
    pages = []
    for k in range(0, len(rows), rows_per_page):
        part = rows[k:k + rows_per_page]
        width = max(r.shape[1] for r in part)
        page = np.concatenate([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                               for r in part])
        path = prefix.parent / f"{prefix.name}_{k // rows_per_page}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(page).save(path)
        pages.append(path)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="`deocclude run` output folder of the old code")
    parser.add_argument("after", type=Path, help="the same photos through the new code")
    parser.add_argument("--grid", type=Path, default=None, help="write zoomed pages PREFIX_0.png, PREFIX_1.png, ...")
    parser.add_argument("--level", type=int, default=8, help="grey levels a channel must move to count (default 8)")
    parser.add_argument("--min-pixels", type=int, default=20,
                        help="photos with fewer changed pixels and the same faces count as equal (default 20)")
    args = parser.parse_args(argv)
    differences = compare(args.before, args.after, args.level, args.min_pixels)
    for d in differences:
        pixels = "missing or resized" if d.changed_pixels < 0 else f"{d.changed_pixels} px"
        faces = "" if d.faces_before == d.faces_after else f"  faces {d.faces_before} -> {d.faces_after}"
        print(f"{d.name}: {pixels}{faces}")
    photos = set(read_manifest(args.before)) | set(read_manifest(args.after))
    print(f"{len(differences)} of {len(photos)} photos differ")
    if args.grid is not None and differences:
        for page in write_grid(differences, args.grid, args.level):
            print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

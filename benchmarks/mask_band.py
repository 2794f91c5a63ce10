"""What the mask band (masks/frame.py, ``DeoccluderConfig.mask_band``) adds on real masked photos, and where to look.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/mask_band.py [--limit N] [--top 36]

Every RMFD photo (``real_occluded/rmfd``, no ground truth) runs through ``deocclude run``'s pipeline twice, with the
band and without it. Per photo: the pixels the band adds to the written mask (``Result.changed_mask``), as a share of
the mask without it. Written:

- ``benchmarks/results/mask_band.json`` / ``.md``: photos, faces, photos the band changed, the added share's
  quantiles, the time per photo both ways, and the ``--top`` photos with the largest added share (where a wrong band
  would show first: a hood, a collar, a hoodie taken for the mask), with the command and commit;
- ``out/mask_band.png`` (not committed: the photos' rights stay with their owners): for each of those photos, the
  added pixels in blue over the input, the output without and with the band, for a person to look at and write
  what they saw in the results file's ``by_eye`` section (kept across reruns).

Why: the band is decided by GrabCut's colour models and edges; a black mask over black clothes gave it the clothes
until ``BandConfig.min_contrast`` (session 11). Run this after any change to the band, the frame or the fill past
the crop, and look at the grid.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from deocclude.imageio import read_image, write_image
from deocclude.paths import REPO_DIR, data_root
from deocclude.pipeline import Deoccluder, DeoccluderConfig

RESULTS = REPO_DIR / "benchmarks" / "results"
BY_EYE = "## By eye"
CELL = 150


def photos(root: Path, limit: int | None) -> list[Path]:
    """The RMFD photos in sorted order (the first ``limit`` of them)."""
    with open(root / "index.csv", newline="") as f:
        names = sorted(row["file"] for row in csv.DictReader(f))
    return [root / "images" / name for name in names[:limit]]


def panel(photo: np.ndarray, without: np.ndarray, with_band: np.ndarray, mask_without: np.ndarray,
          mask_with: np.ndarray) -> np.ndarray:
    """(CELL, 3 CELL, 3) uint8: the added pixels in blue over the photo, the output without and with the band,
    cropped around the written mask near the added pixels."""
    added = mask_with & ~mask_without
    ys, xs = np.nonzero(added)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    my, mx = np.nonzero(mask_with)
    near = (np.abs(my - cy) < 80) & (np.abs(mx - cx) < 80)
    y0, y1 = max(int(my[near].min()) - 12, 0), int(my[near].max()) + 12
    x0, x1 = max(int(mx[near].min()) - 12, 0), int(mx[near].max()) + 12
    shown = photo.copy()
    shown[added] = (0.4 * shown[added] + np.array([0, 0, 150])).astype(np.uint8)
    cells = [img[y0:y1, x0:x1] for img in (shown, without, with_band)]
    return np.concatenate([cv2.resize(c, (CELL, CELL), interpolation=cv2.INTER_AREA) for c in cells], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N photos (default: all 516)")
    parser.add_argument("--top", type=int, default=36, help="photos listed and drawn, largest added share first")
    parser.add_argument("--grid", type=Path, default=Path("out") / "mask_band.png")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where mask_band.json / .md go")
    args = parser.parse_args()
    root = data_root() / "real_occluded" / "rmfd"
    if not (root / "index.csv").is_file():
        sys.exit(f"mask_band: RMFD not found under {root} (set DEOCCLUDE_DATA)")
    with_band = Deoccluder(DeoccluderConfig())
    without = Deoccluder(dataclasses.replace(with_band.config, mask_band=False))
    rows, panels, seconds = [], {}, {"with": 0.0, "without": 0.0}
    paths = photos(root, args.limit)
    for deoccluder in (without, with_band):  # warm-up, untimed: the first call pays for lazy model loads
        deoccluder.run(read_image(paths[0]))
    for k, path in enumerate(paths):
        photo = read_image(path)
        started = time.perf_counter()
        plain = without.run(photo)
        seconds["without"] += time.perf_counter() - started
        started = time.perf_counter()
        banded = with_band.run(photo)
        seconds["with"] += time.perf_counter() - started
        mask_without, mask_with = plain.changed_mask(), banded.changed_mask()
        added = int((mask_with & ~mask_without).sum())
        rows.append({"photo": path.name, "faces": len(banded.faces), "mask_px": int(mask_without.sum()),
                     "added_px": added, "added_share": round(added / max(int(mask_without.sum()), 1), 4)})
        if added:
            panels[path.name] = panel(photo, plain.photo, banded.photo, mask_without, mask_with)
        if (k + 1) % 50 == 0:
            print(f"{k + 1} photos", flush=True)
    with_face = [r for r in rows if r["faces"]]
    changed = [r for r in with_face if r["added_px"]]
    top = sorted(changed, key=lambda r: -r["added_share"])[:args.top]
    shares = [r["added_share"] for r in changed] or [0.0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_DIR).stdout.strip()
    command = "python benchmarks/mask_band.py " + " ".join(sys.argv[1:])
    summary = {"command": command, "commit": commit, "photos": len(rows), "photos_with_a_face": len(with_face),
               "faces": sum(r["faces"] for r in rows), "photos_changed_by_the_band": len(changed),
               "added_share_quantiles": {q: round(float(np.percentile(shares, q)), 3) for q in (50, 90, 100)},
               "ms_per_photo": {k: round(1000 * v / max(len(rows), 1), 1) for k, v in seconds.items()},
               "top": top, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mask_band.json").write_text(json.dumps(summary, indent=1) + "\n")
    quantiles = summary["added_share_quantiles"]
    lines = [f"```bash\n{command}\n```", "",
             f"Commit {commit}. RMFD: {len(rows)} photos, {len(with_face)} with a face ({summary['faces']} faces); "
             f"the band changed the written mask of {len(changed)}; pixels it adds, as a share of the mask without "
             f"it (photos it changed): median {quantiles[50]:.3f}, 90th percentile {quantiles[90]:.3f}, "
             f"largest {quantiles[100]:.3f}. Time per photo without / with it: "
             f"{summary['ms_per_photo']['without']} / {summary['ms_per_photo']['with']} ms (this machine, one "
             "process, both runs in turn).", "",
             f"The {len(top)} largest added shares (drawn in `{args.grid}`: added pixels in blue, without, with):", "",
             "| photo | faces | mask px without | added px | added share |", "|---|---|---|---|---|"]
    lines += [f"| {r['photo']} | {r['faces']} | {r['mask_px']} | {r['added_px']} | {r['added_share']:.3f} |"
              for r in top]
    report = args.out / "mask_band.md"
    by_eye = report.read_text().partition(BY_EYE)[2] if report.is_file() else ""
    if by_eye:  # a person's verdicts, dated with their commit: a rerun keeps them
        lines += ["", BY_EYE + by_eye.rstrip("\n")]
    report.write_text("\n".join(lines) + "\n")
    drawn = [panels[r["photo"]] for r in top]
    if drawn:
        drawn += [np.zeros_like(drawn[0])] * (-len(drawn) % 2)
        grid = np.concatenate([np.concatenate(drawn[i:i + 2], 1) for i in range(0, len(drawn), 2)], 0)
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        write_image(args.grid, grid)
        print(f"grid: {args.grid}")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("rows", "top")}, indent=1))


if __name__ == "__main__":
    main()

"""Do-no-harm benchmark (issue 15): how much of a *clean* face does ``deocclude run`` change?

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/do_no_harm.py [--lfw 150] [--utk 150]

Clean real photos no one here made: LFW photos (the first photo of the first ``--lfw``
people, sorted by name) and UTKFace test faces with visible_ratio >= 0.9 (the first
``--utk`` by name). Each goes through the default pipeline as a photo. Per face: the share
of its face surface M_R (warped into the photo) whose pixels changed by more than 8 grey
levels. Prints and writes ``benchmarks/results/do_no_harm.json`` / ``.md`` (command and
commit) and a grid of the 16 worst faces (``do_no_harm_worst.png``: crop, M_O, output crop).
Targets: <= 10 % of faces above 2 % changed, <= 2 % above 10 %.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from deocclude.config_codec import config_with_overrides
from deocclude.errors import DeoccludeError
from deocclude.faces.align import invert_affine, to_opencv
from deocclude.imageio import read_image, write_image
from deocclude.paths import REPO_DIR, data_root
from deocclude.pipeline import Deoccluder, DeoccluderConfig

RESULTS = REPO_DIR / "benchmarks" / "results"
if "--out" in sys.argv:  # a scratch results folder for comparisons
    RESULTS = Path(sys.argv[sys.argv.index("--out") + 1])
CHANGED_LEVELS = 8


def clean_photos(root: Path, lfw: int, utk: int) -> list[tuple[str, Path]]:
    photos = []
    lfw_dir = root / "faces" / "lfw" / "images"
    for person in sorted(p for p in lfw_dir.iterdir() if p.is_dir())[:lfw]:
        photos.append(("lfw", sorted(person.iterdir())[0]))
    utk_dir = root / "faces" / "utkface"
    with open(utk_dir / "index.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test" and float(r["visible_ratio"]) >= 0.9]
    photos += [("utkface", utk_dir / "images" / r["file"]) for r in sorted(rows, key=lambda r: r["file"])[:utk]]
    return photos


def face_changes(photo: np.ndarray, result) -> list[tuple[float, object]]:  # noqa: ANN001 - a pipeline Result
    changed = np.abs(result.photo.astype(int) - photo.astype(int)).max(axis=2) > CHANGED_LEVELS
    height, width = photo.shape[:2]
    out = []
    for face in result.faces:
        surface = cv2.warpAffine(face.face_region, to_opencv(invert_affine(face.aligned.matrix)), (width, height),
                                 flags=cv2.INTER_NEAREST) > 0.5
        out.append((float((changed & surface).sum() / max(surface.sum(), 1)), face))
    return out


def configured(overrides: list[str]) -> DeoccluderConfig:
    """The default pipeline config with ``FIELD=JSON`` overrides: one benchmark for every knob of M_O."""
    try:
        return config_with_overrides(DeoccluderConfig(), overrides)
    except (ValueError, DeoccludeError) as exc:
        raise SystemExit(f"error: {exc}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", type=int, default=150, help="LFW people (first photo each)")
    parser.add_argument("--utk", type=int, default=150, help="UTKFace clean test faces")
    parser.add_argument("--out", type=Path, help="write the results here instead of benchmarks/results")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                        help="override a DeoccluderConfig field, e.g. --set rim_depth=0 --set remove_hair=true "
                             "(repeatable; the value is JSON)")
    args = parser.parse_args()
    root = data_root()
    config = configured(args.set)
    deoccluder = Deoccluder(config)
    rows, worst = [], []
    start = time.perf_counter()
    photos = clean_photos(root, args.lfw, args.utk)
    for i, (source, path) in enumerate(photos):
        photo = read_image(path)
        result = deoccluder.run(photo)
        for share, face in face_changes(photo, result):
            rows.append({"source": source, "file": str(path.relative_to(root)), "face": face.index,
                         "changed": round(share, 4), "status": face.status})
            worst.append((share, face))
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(photos)} photos, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    summary = {}
    for source in ("lfw", "utkface", "all"):
        shares = np.array([r["changed"] for r in rows if source in ("all", r["source"])])
        summary[source] = {"faces": int(len(shares)), "above_2pct": round(float((shares > 0.02).mean()), 4),
                           "above_10pct": round(float((shares > 0.10).mean()), 4),
                           "mean_changed": round(float(shares.mean()), 4),
                           "untouched_by_gate": sum(r["status"].startswith("untouched") for r in rows
                                                    if source in ("all", r["source"]))}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_DIR).stdout.strip()
    command = "PYTHONPATH=src python benchmarks/do_no_harm.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "do_no_harm.json").write_text(json.dumps({"command": command, "commit": commit, "summary": summary,
                                                         "faces": rows}, indent=1) + "\n")
    lines = [f"# Do no harm on clean real faces\n\n`{command}` at commit `{commit}`; changed = > {CHANGED_LEVELS} "
             "grey levels, share of the face surface M_R.\n",
             "| set | faces | > 2 % changed | > 10 % changed | mean changed | left untouched by the gate |",
             "|---|---|---|---|---|---|"]
    for source, s in summary.items():
        lines.append(f"| {source} | {s['faces']} | {s['above_2pct']:.1%} | {s['above_10pct']:.1%} | "
                     f"{s['mean_changed']:.2%} | {s['untouched_by_gate']} |")
    (RESULTS / "do_no_harm.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    worst.sort(key=lambda item: -item[0])
    tiles = []
    for _share, face in worst[:16]:
        mask = face.occlusion_mask if face.occlusion_mask is not None else np.zeros(face.aligned.crop.shape[:2])
        overlay = face.aligned.crop.copy()
        overlay[mask > 0.5] = (0.5 * overlay[mask > 0.5] + (127, 0, 0)).astype(np.uint8)
        tiles.append(np.concatenate([face.aligned.crop, overlay, face.restored], axis=1))
    if tiles:
        write_image(RESULTS / "do_no_harm_worst.png", np.concatenate(tiles, axis=0))


if __name__ == "__main__":
    main()

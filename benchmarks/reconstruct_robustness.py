"""R's robustness experiment (paper §3.3, docs/method.md §4) on the UTKFace val faces.

For each protocol (``mixed``: one held-out occluder of any category per face;
``sunglasses``: dark drawn sunglasses), every face is reconstructed three ways and compared
with the teacher's fit x* of the *clean* face (:mod:`deocclude.reconstruct.evaluation`):

- ``R_occluded``: R on the occluded crop;
- ``baseline_occluded``: the non-robust baseline, the teacher fit itself run on the
  occluded crop: 468 landmarks detected on the occluded crop by our face mesh (MediaPipe
  model; the region of interest is the canonical face region of the aligned crop, refined
  once from its own points, so no clean landmark is used), pixels of the occluded crop,
  and as its face mask the mesh of those detected landmarks (it does not know where the
  occluder is, like any non-robust fitter);
- ``R_clean``: R on the clean crop (robustness should not cost accuracy).

Also the mean face (x = 0, R before training) as a floor, and R's latency per face.
Pictures go to a git-ignored folder (UTKFace pixels never enter the repository).

    PYTHONPATH=src python benchmarks/reconstruct_robustness.py            # all 500 val faces
    PYTHONPATH=src python benchmarks/reconstruct_robustness.py --limit 64  # a quick look
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from deocclude.data import UTKFaceFaces
from deocclude.faces.align import canonical_template
from deocclude.faces.landmarks import FaceMesh, roi_from_landmarks
from deocclude.faces.mesh import mesh_mask
from deocclude.imageio import write_image
from deocclude.reconstruct.evaluation import reconstruction_errors
from deocclude.reconstruct.fit import fit_teacher
from deocclude.reconstruct.inference import DEFAULT_WEIGHTS, Reconstructor
from deocclude.reconstruct.task import load_teacher_table
from deocclude.synth.protocols import iterate_protocol
from deocclude.train.grid import tile, to_rgb_uint8

METHODS = ("R_occluded", "baseline_occluded", "R_clean", "mean_face")


def detect_landmarks(mesh: FaceMesh, crop: np.ndarray) -> np.ndarray:
    """468 points on an aligned uint8 crop without its clean landmarks (see the module docstring)."""
    roi = roi_from_landmarks(canonical_template(crop.shape[0]))
    points, _ = mesh.run_roi(crop, roi)
    points, _ = mesh.run_roi(crop, roi_from_landmarks(points))
    return points


def u8(t: torch.Tensor) -> np.ndarray:
    return (t.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def evaluate(protocol: str, faces: UTKFaceFaces, table: dict, model: Reconstructor, mesh: FaceMesh, limit: int,
             batch: int, grid_dir: Path) -> dict:
    fm = model.face_model
    per_face: dict[str, dict[str, list[float]]] = {m: {"landmark": [], "photometric": [], "iou": []} for m in METHODS}
    categories: list[str] = []
    samples = [s for s in iterate_protocol(protocol, faces, limit=limit) if s.name in table]
    grid_rows = []
    for start in range(0, len(samples), batch):
        chunk = samples[start:start + batch]
        clean = torch.stack([s.item["image"] for s in chunk])
        occluded = torch.stack(
            [torch.from_numpy(np.ascontiguousarray(s.occlusion.image)).permute(2, 0, 1).float() for s in chunk]
        )
        face_mask = torch.stack([s.item["face_mask"] for s in chunk])
        valid = torch.stack([s.item["valid"] for s in chunk])
        x_star = torch.from_numpy(np.stack([table[s.name] for s in chunk])).float()
        categories += [s.occlusion.category for s in chunk]
        size = clean.shape[-1]
        occ_u8 = [u8(o) for o in occluded]
        detected = torch.from_numpy(np.stack([detect_landmarks(mesh, o) for o in occ_u8])).float()
        base_mask = (
            torch.from_numpy(np.stack([mesh_mask(p[:, :2], size, size) for p in detected.numpy()])) * valid[:, 0]
        )
        x_base = fit_teacher(fm, occluded, detected, base_mask).x
        with torch.no_grad():
            reference = fm.render(x_star, size)
            xs = {"R_occluded": model(occluded).x, "baseline_occluded": x_base, "R_clean": model(clean).x,
                  "mean_face": torch.zeros_like(x_star)}
            renders = {}
            for name, x in xs.items():
                errs = reconstruction_errors(fm, x, reference, clean, face_mask)
                for k, v in errs.items():
                    per_face[name][k] += v.tolist()
                renders[name] = fm.render(x.float(), size).image
        for i in range(min(len(chunk), 12 - len(grid_rows))):
            grid_rows.append(
                [
                    occ_u8[i],
                    to_rgb_uint8(renders["baseline_occluded"][i]),
                    to_rgb_uint8(renders["R_occluded"][i]),
                    to_rgb_uint8(reference.image[i]),
                    u8(clean[i]),
                ]
            )
        print(f"  {protocol}: {start + len(chunk)}/{len(samples)} faces", flush=True)
    grid_dir.mkdir(parents=True, exist_ok=True)
    write_image(grid_dir / f"reconstruct_{protocol}.png", tile(grid_rows))

    def summary(values: list[float]) -> float:
        return round(float(np.mean(values)), 4)

    out: dict = {
        "faces": len(samples),
        "grid_columns": "occluded | baseline render | R render | teacher(clean) render | clean",
    }
    for m in METHODS:
        out[m] = {k: summary(v) for k, v in per_face[m].items()}
    out["ratio_R_over_baseline"] = {k: round(out["R_occluded"][k] / max(out["baseline_occluded"][k], 1e-9), 3)
                                    for k in ("landmark", "photometric")}
    cats = np.array(categories)
    out["per_category_landmark"] = {
        c: {
            m: summary(np.array(per_face[m]["landmark"])[cats == c].tolist())
            for m in ("R_occluded", "baseline_occluded")
        }
        | {"n": int((cats == c).sum())}
        for c in sorted(set(categories))
    }
    return out


def latency(model: Reconstructor, size: int, repeats: int = 20) -> dict:
    """Seconds per face of R (regressor + render) on single crops and on a batch of 32."""
    one, many = torch.rand(1, 3, size, size), torch.rand(32, 3, size, size)
    model(one)
    t = time.perf_counter()
    for _ in range(repeats):
        model(one)
    single = (time.perf_counter() - t) / repeats
    t = time.perf_counter()
    model(many)
    batched = (time.perf_counter() - t) / 32
    return {"ms_per_face_batch1": round(single * 1000, 1), "ms_per_face_batch32": round(batched * 1000, 1),
            "torch_threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--teacher", default="", help="teacher cache .npz (default: $DEOCCLUDE_CACHE/teacher_x_128.npz)")
    ap.add_argument("--protocols", nargs="+", default=["mixed", "sunglasses"])
    ap.add_argument("--limit", type=int, default=500, help="val faces per protocol")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grids", default="out/benchmarks", help="folder for the pictures (git-ignored)")
    ap.add_argument("--results", default="benchmarks/results/reconstruct_r.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    table = load_teacher_table(args.teacher, args.size)
    faces = UTKFaceFaces(split="val", size=args.size)
    model = Reconstructor(args.weights)
    mesh = FaceMesh()
    start = time.time()
    results: dict = {
        "split": "val",
        "size": args.size,
        "weights": Path(args.weights).name,
        "paper": {"baseline": 0.177, "robust": 0.153, "ratio": round(0.153 / 0.177, 3)},
        "metrics": "landmark: mean px distance of the 468 projected vertices to the teacher's (clean face); "
        "photometric: mean ||I_clean - I_R||_2 over M_F(clean) * M_R(teacher); iou: M_R vs the teacher's M_R",
    }
    for protocol in args.protocols:
        results[protocol] = evaluate(protocol, faces, table, model, mesh, args.limit, args.batch, Path(args.grids))
        print(json.dumps({protocol: results[protocol]}, indent=1), flush=True)
    results["latency"] = latency(model, args.size)
    results["machine"] = (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s), shared 2-core CPU"
    )
    results["commit"] = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    results["minutes"] = round((time.time() - start) / 60, 1)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["latency"]), f"-> {args.results}")


if __name__ == "__main__":
    main()

"""Benchmark of the reconstruction part: renderer speed, face-model statistics, teacher quality.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/reconstruct.py

Writes benchmarks/results/reconstruct.json, docs/face_model_components.png (renders of our
own model, no photo pixels) and out/teacher_val_grid.png (UTKFace pixels: git-ignored).
Timings: wall-clock and process CPU time; on a shared machine the CPU time is the fairer
number.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deocclude.paths import REPO_DIR, utkface_root
from deocclude.reconstruct.face_model import FaceModel
from deocclude.reconstruct.fit import FitConfig, evaluate_fit, fit_teacher
from deocclude.reconstruct.utkface import aligned_batch, load_index

RESULTS = REPO_DIR / "benchmarks" / "results" / "reconstruct.json"


def timed(fn, repeats: int = 5) -> dict[str, float]:
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return {"wall_ms_median": statistics.median(walls), "cpu_ms_median": statistics.median(cpus)}


def bench_render(model: FaceModel, batch: int, size: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, model.layout.size, generator=gen) * 0.3
    x[:, model.layout.angles] *= 0.5

    def forward():
        with torch.no_grad():
            model.render(x, size)

    def backward():
        xg = x.clone().requires_grad_(True)
        model.render(xg, size).image.square().mean().backward()

    return {"batch": batch, "size": size, "forward": timed(forward), "forward_backward": timed(backward)}


def to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def component_grid(model: FaceModel, size: int, path: Path) -> None:
    """Rows: shape PC 1-3 (frontal and 35 degrees yaw), albedo PC 1-3; columns -3, 0, +3 std."""
    import cv2

    lay = model.layout
    rows = []
    for kind in ("shape", "albedo"):
        for k in range(3):
            for yaw in ((0.0, 0.6) if kind == "shape" else (0.0,)):
                x = lay.zeros(3)
                sl = lay.shape if kind == "shape" else lay.albedo
                x[:, sl.start + k] = torch.tensor([-3.0, 0.0, 3.0])
                x[:, 1] = yaw
                with torch.no_grad():
                    out = model.render(x, size)
                rows.append(np.concatenate([to_uint8(img) for img in out.image], axis=1))
    grid = np.concatenate(rows, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def teacher_grid(images, rendered, masks, path: Path, n: int = 16) -> None:
    """Per face: I, I_R, M_R, I_R pasted over I (4 columns), 2 faces per row."""
    import cv2

    tiles = []
    for i in range(min(n, images.shape[0])):
        m = rendered.mask[i]
        pasted = images[i] * (1 - m) + rendered.image[i] * m
        tiles.append(np.concatenate([to_uint8(images[i]), to_uint8(rendered.image[i]), to_uint8(m.expand(3, -1, -1)),
                                     to_uint8(pasted)], axis=1))
    rows = [np.concatenate(tiles[j:j + 2], axis=1) for j in range(0, len(tiles), 2)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


def bench_teacher(model: FaceModel, size: int, limit: int | None, batch: int) -> dict:
    index = load_index(utkface_root())
    ids = index.select("val")[:limit]
    gen = torch.Generator().manual_seed(0)
    from deocclude.faces.mesh import mesh_mask

    lm_err, ph_err, base_lm, base_ph, ious = [], [], [], [], []
    wall = cpu = load_wall = 0.0
    first = None
    for s in range(0, len(ids), batch):
        chunk = ids[s:s + batch]
        t = time.perf_counter()
        images, landmarks, masks = aligned_batch(index, chunk, size)
        load_wall += time.perf_counter() - t
        w, c = time.perf_counter(), time.process_time()
        result = fit_teacher(model, images, landmarks, masks, FitConfig(), gen)
        wall += time.perf_counter() - w
        cpu += time.process_time() - c
        with torch.no_grad():
            cover = model.render(result.x, size).mask[:, 0].numpy() > 0.5
        for k in range(len(chunk)):
            target = mesh_mask(landmarks[k, :, :2].numpy(), size, size) > 0.5
            ious.append(float((cover[k] & target).sum() / max(1, (cover[k] | target).sum())))
        lm_err.append(result.landmark_error)
        ph_err.append(result.photometric_error)
        base = evaluate_fit(model, model.layout.zeros(len(chunk)), images, landmarks, masks)
        base_lm.append(base["landmark_error"])
        base_ph.append(base["photometric_error"])
        if first is None:
            with torch.no_grad():
                first = (images, model.render(result.x, size), masks)
    lm, ph = torch.cat(lm_err), torch.cat(ph_err)
    teacher_grid(*first, REPO_DIR / "out" / "teacher_val_grid.png")
    return {
        "faces": int(len(ids)),
        "size": size,
        "landmark_error_px": {"mean": float(lm.mean()), "p95": float(lm.quantile(0.95)), "max": float(lm.max())},
        "mean_face_landmark_error_px": {
            "mean": float(torch.cat(base_lm).mean()),
            "p95": float(torch.cat(base_lm).quantile(0.95)),
        },
        "photometric_l1_masked": {
            "mean": float(ph.mean()),
            "p95": float(ph.quantile(0.95)),
            "note": "mean |I_R - I| over M_F * M_R, per channel, images in [0, 1]",
        },
        "mean_face_photometric_l1_masked": float(torch.cat(base_ph).mean()),
        "mask_iou_M_R_vs_data_mesh_mask": {"mean": float(np.mean(ious)), "p5": float(np.percentile(ious, 5))},
        "fit_ms_per_face": {"wall": wall / len(ids) * 1000, "cpu": cpu / len(ids) * 1000},
        "load_align_ms_per_face_wall": load_wall / len(ids) * 1000,
        "batch": batch,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--val-limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-teacher", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = FaceModel.load(args.model)
    path = Path(args.model) if args.model else REPO_DIR / "src" / "deocclude" / "weights" / "face_model.safetensors"
    report: dict = {
        "command": "PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python "
        + " ".join(["benchmarks/reconstruct.py", *sys.argv[1:]]),
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), shared 2-core CPU",
        "face_model": {
            "file_mb": path.stat().st_size / 1e6,
            "vertices": int(model.mean_shape.shape[0]),
            "triangles": int(model.triangles.shape[0]),
            "texture": int(model.texture_size),
            "shape_variance_explained": {str(k): float(model.shape_explained[k - 1]) for k in (1, 3, 10, 40, 80, 144)
                                         if k <= len(model.shape_explained)},
            "albedo_variance_explained": {str(k): float(model.albedo_explained[k - 1]) for k in (1, 3, 10, 40, 80)
                                          if k <= len(model.albedo_explained)},
            "build_report": json.loads(model.metadata.get("report", "{}")),
        },
    }
    with torch.no_grad():
        mean_cover = float(model.render(model.layout.zeros(1), 128).mask.mean())
    report["face_model"]["mean_face_coverage_at_128"] = mean_cover
    report["render"] = [bench_render(model, 16, 128), bench_render(model, 1, 128), bench_render(model, 16, 256)]
    component_grid(model, 112, REPO_DIR / "docs" / "face_model_components.png")
    if not args.skip_teacher:
        report["teacher_val"] = bench_teacher(model, 128, args.val_limit, 64)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

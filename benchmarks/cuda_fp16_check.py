"""fp16 on CUDA vs fp32 on CUDA vs CPU: masks, coefficients and output photos of the bundled examples.

Usage: PYTHONPATH=src python benchmarks/cuda_fp16_check.py [cuda]   (prints; results quoted in
benchmarks/results/bench_cuda_h200.md). With ``cpu`` it checks that ``half`` changes nothing on the CPU.
"""
import sys
import time

import numpy as np
import torch

from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR
from deocclude.pipeline import Deoccluder, DeoccluderConfig

device = sys.argv[1] if len(sys.argv) > 1 else "cuda"
photos = {p.name: read_image(p) for p in sorted((REPO_DIR / "examples").glob("*.jpg"))}
runs = {"cpu": Deoccluder(DeoccluderConfig(device="cpu")),
        f"{device} fp32": Deoccluder(DeoccluderConfig(device=device, half=False)),
        f"{device} fp16": Deoccluder(DeoccluderConfig(device=device, half=True))}
for name, d in runs.items():
    print(name, "resolved", d.device, "uses_half", d.uses_half, flush=True)
results = {name: {p: d.run(photo) for p, photo in photos.items()} for name, d in runs.items()}
crops = [r.faces[0].aligned.crop for r in results["cpu"].values()]
for name, d in runs.items():
    out = d.run_aligned(crops)
    print(name, "run_aligned statuses", [f.status for f in out], "methods", sorted({f.method for f in out}))
ref = results["cpu"]
for name in list(runs)[1:]:
    for p in photos:
        a, b = ref[p].faces[0], results[name][p].faces[0]
        inter = np.logical_and(a.occlusion_mask > 0.5, b.occlusion_mask > 0.5).sum()
        union = np.logical_or(a.occlusion_mask > 0.5, b.occlusion_mask > 0.5).sum()
        diff = np.abs(ref[p].photo.astype(int) - results[name][p].photo)
        print(f"{name} vs cpu {p}: status {b.status}, method {b.method}, M_O IoU {inter / max(union, 1):.4f}, "
              f"M_F max diff {np.abs(a.face_mask - b.face_mask).max():.4f}, coeff max diff "
              f"{np.abs(a.coefficients - b.coefficients).max():.4f} dtype {b.coefficients.dtype}, "
              f"photo mean|diff| {diff.mean():.4f} max {diff.max()}", flush=True)
if device.startswith("cuda"):
    crops16 = [crops[i % len(crops)] for i in range(64)]
    for half in (True, False):
        d = runs[f"{device} fp16" if half else f"{device} fp32"]
        torch.cuda.synchronize()
        d.run_aligned(crops16)
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        t = time.perf_counter()
        d.run_aligned(crops16)
        torch.cuda.synchronize()
        print(f"{device} half={half}: 64 aligned crops batch 16 {1000 * (time.perf_counter() - t) / 64:.2f} ms/face, "
              f"max alloc {torch.cuda.max_memory_allocated() / 2**20:.1f} MB", flush=True)
g = Deoccluder(DeoccluderConfig(device=device, fill="g"))
face = g.run(photos["astronaut_sunglasses.jpg"]).faces[0]
print(f"{device} fill g (fp16 {g.uses_half}): status {face.status}, method {face.method}, "
      f"restored {face.restored.dtype} {face.restored.shape}")

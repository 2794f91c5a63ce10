"""Coverage of the seeded protocols: what fraction of each test face's mesh is occluded.

For ``sunglasses`` and ``mixed`` (1,000 UTKFace test faces, N = 128, default seed) it
reports mean / 10th / 90th percentile of sum(A * mesh) / sum(mesh), overall and per
category, and a SHA-256 of every sample's 8-bit occluded image + alpha so that another
machine can check it produces byte-identical sets. The same statistics for the training
distribution (``OccludedFaces`` on val faces, train split, p_clean = 0) are given for
comparison. Results are merged into ``benchmarks/results/synth.json`` under ``"coverage"``.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/synth_coverage.py
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np

from synth_speed import merge_results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from deocclude.data import UTKFaceFaces
    from deocclude.synth import OccludedFaces, OcclusionSynthesizer
    from deocclude.synth.protocols import DEFAULT_SEED, PROTOCOLS, coverage_stats, iterate_protocol

    out = {"command": "PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/synth_coverage.py",
           "size": args.size, "seed": DEFAULT_SEED}
    faces = UTKFaceFaces(split="test", size=args.size)
    for name in PROTOCOLS:
        t = time.perf_counter()
        digest = hashlib.sha256()
        cover = []
        for s in iterate_protocol(name, faces, DEFAULT_SEED, args.limit):
            digest.update(np.round(s.occlusion.image * 255).astype(np.uint8).tobytes())
            digest.update(np.round(s.occlusion.alpha * 255).astype(np.uint8).tobytes())
            cover.append((s.occlusion.category, s.coverage()))
        stats = coverage_stats(cover)
        out[name] = {
            "coverage": stats,
            "sha256_uint8": digest.hexdigest(),
            "seconds": round(time.perf_counter() - t, 1),
        }
        a = stats["all"]
        print(f"{name}: n={a['n']} coverage mean {a['mean']:.3f} p10 {a['p10']:.3f} p90 {a['p90']:.3f} "
              f"sha256 {digest.hexdigest()[:16]}")
        for cat, v in stats.items():
            if cat != "all":
                print(f"  {cat:12s} n={v['n']:4d} mean {v['mean']:.3f} p10 {v['p10']:.3f} p90 {v['p90']:.3f}")
    val = UTKFaceFaces(split="val", size=args.size)
    train = OccludedFaces(val, OcclusionSynthesizer(split="train"), seed=0, p_clean=0.0)
    n = len(val) if args.limit is None else min(args.limit, len(val))
    cover = []
    for i in range(n):
        it = train[i]
        mesh = it["mesh_mask"].sum().item()
        cover.append((it["category"], it["occlusion"].sum().item() / max(mesh, 1.0)))
    out["training_distribution_on_val"] = {"coverage": coverage_stats(cover)}
    a = out["training_distribution_on_val"]["coverage"]["all"]
    print(f"training distribution (val faces): mean {a['mean']:.3f} p10 {a['p10']:.3f} p90 {a['p90']:.3f}")
    merge_results("coverage", out)


if __name__ == "__main__":
    main()

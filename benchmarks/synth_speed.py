"""Occlusion-synthesis speed at N = 128: is it ever what limits training?

Measures (1) the synthesizer alone, one process, one thread: ms per sample per category
and overall; (2) ``OccludedFaces`` through ``make_loader`` with 2 spawned workers (this
machine's 2 cores): samples/s after start-up, and the start-up itself. Results are merged
into ``benchmarks/results/synth.json`` under ``"speed"``.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/synth_speed.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "synth.json"


def merge_results(key: str, value: dict) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[key] = value
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--per-category", type=int, default=60)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from deocclude.data import UTKFaceFaces, make_loader
    from deocclude.synth import OccludedFaces, OcclusionSynthesizer

    faces = UTKFaceFaces(split="val", size=args.size)
    t0 = time.perf_counter()
    synth = OcclusionSynthesizer(split="train")
    init_s = time.perf_counter() - t0
    items = [faces[i] for i in range(50)]
    inputs = [(it["image"].permute(1, 2, 0).numpy(), it["landmarks"].numpy()) for it in items]
    per_cat, per_cat_cpu = {}, {}
    for c, cat in enumerate(synth.categories):
        for k in range(3):  # warm-up
            synth(*inputs[k], np.random.default_rng([c, k]), cat)
        t, tc = time.perf_counter(), time.process_time()
        for k in range(args.per_category):
            synth(*inputs[k % len(inputs)], np.random.default_rng([c, 100 + k]), cat)
        per_cat[cat] = round(1000 * (time.perf_counter() - t) / args.per_category, 3)
        per_cat_cpu[cat] = round(1000 * (time.process_time() - tc) / args.per_category, 3)
    mixed_n = args.per_category * 4
    t, tc = time.perf_counter(), time.process_time()
    for k in range(mixed_n):
        synth(*inputs[k % len(inputs)], np.random.default_rng([999, k]))
    mixed_ms = 1000 * (time.perf_counter() - t) / mixed_n
    mixed_cpu = 1000 * (time.process_time() - tc) / mixed_n
    print(f"synthesizer init {init_s:.2f} s")
    print(f"wall ms/sample by category: {per_cat}")
    print(f"CPU  ms/sample by category: {per_cat_cpu}")
    print(f"random category: {mixed_ms:.2f} ms wall, {mixed_cpu:.2f} ms CPU per sample "
          f"= {1000 / mixed_cpu:.0f} samples/s per free core")

    ds = OccludedFaces(faces, synth, seed=0)
    tc = time.process_time()
    for i in range(200):
        ds[i]
    item_cpu = 1000 * (time.process_time() - tc) / 200
    print(f"OccludedFaces item (cache read + synthesis + tensors): {item_cpu:.2f} ms CPU")
    loader = make_loader(ds, batch_size=args.batch_size, shuffle=True, num_workers=2, seed=0)
    t = time.perf_counter()
    it = iter(loader)
    next(it)
    startup = time.perf_counter() - t
    n, t = 0, time.perf_counter()
    for b, batch in enumerate(it):
        n += batch["image"].shape[0]
        if b + 1 >= args.batches:
            break
    loader_sps = n / (time.perf_counter() - t)
    print(f"loader, 2 spawned workers: start-up {startup:.1f} s, then {loader_sps:.0f} samples/s "
          f"(batch {args.batch_size}, N={args.size})")
    merge_results("speed", {
        "command": "PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/synth_speed.py",
        "size": args.size,
        "synth_init_s": round(init_s, 2),
        "wall_ms_per_sample_by_category": per_cat,
        "cpu_ms_per_sample_by_category": per_cat_cpu,
        "wall_ms_per_sample_random_category": round(mixed_ms, 3),
        "cpu_ms_per_sample_random_category": round(mixed_cpu, 3),
        "samples_per_s_per_free_core": round(1000 / mixed_cpu, 1),
        "occluded_faces_item_cpu_ms": round(item_cpu, 3),
        "loader_2_workers_samples_per_s": round(loader_sps, 1),
        "loader_startup_s": round(startup, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f} "
                   "(shared by other jobs: numbers are lower bounds)",
    })


if __name__ == "__main__":
    main()

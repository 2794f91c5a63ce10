"""Per-face latency of the faces path on this CPU: detect, mesh, align, paste back.

Times the median (and 90th percentile) over repeated runs after a warm-up, on the bundled
astronaut (512², one face) and, when the shared data is present, on the wild photos
(mostly 1024 px long side). Detection is per image; mesh, align and paste per face.
Interpreters use one thread (the machine is shared; set --threads to try more).

Usage: PYTHONPATH=src python benchmarks/faces_latency.py [--repeat 30] [--threads 1]
Writes benchmarks/results/faces_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deocclude.faces.align import align_face
from deocclude.faces.detect import DetectorConfig, FaceDetector
from deocclude.faces.landmarks import FaceMesh, MeshConfig
from deocclude.faces.paste_back import paste_back
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR, data_root


def timed(fn: Callable[[], object], repeat: int) -> dict:
    fn()  # warm-up (interpreter allocation, caches)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return {"median_ms": round(float(np.median(samples)), 3), "p90_ms": round(float(np.percentile(samples, 90)), 3),
            "runs": repeat}


def bench_image(image: np.ndarray, repeat: int, threads: int) -> dict:
    detectors = {
        name: FaceDetector(name, config=DetectorConfig(num_threads=threads)) for name in ("short", "full", "auto")
    }
    detectors["full_no_tiles"] = FaceDetector("full", config=DetectorConfig(num_threads=threads, tile_levels=0))
    out = {"size": list(image.shape[:2]), "detect_per_image": {}}
    for name, det in detectors.items():
        out["detect_per_image"][name] = timed(lambda d=det: d(image), repeat)
    faces = detectors["short"](image)[:1]
    if not faces:
        return out
    mesh, refine = FaceMesh(MeshConfig(num_threads=threads)), FaceMesh(MeshConfig(num_threads=threads, refine_passes=1))
    out["mesh_per_face"] = timed(lambda: mesh(image, faces), repeat)
    out["mesh_refine_1_pass_per_face"] = timed(lambda: refine(image, faces), repeat)
    points = mesh(image, faces)[0].points
    for size in (128, 256):
        aligned = align_face(image, points, size)
        out[f"align_{size}_per_face"] = timed(lambda s=size: align_face(image, points, s), repeat)
        mask = np.ones((size, size), np.float32)
        out[f"paste_{size}_per_face"] = timed(lambda a=aligned, m=mask: paste_back(image, a, a.crop, m), repeat)
    return out


def summarise(per_image: list[dict], key: str, sub: str | None = None) -> dict:
    values = [(r[key][sub] if sub else r[key])["median_ms"] for r in per_image if key in r]
    return {"median_of_medians_ms": round(float(np.median(values)), 3), "images": len(values)} if values else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wild", type=int, default=20, help="how many wild photos (0 = none)")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "benchmarks" / "results" / "faces_latency.json")
    args = parser.parse_args()
    result = {"command": f"PYTHONPATH=src python benchmarks/faces_latency.py --repeat {args.repeat} "
                         f"--threads {args.threads} --wild {args.wild}",
              "machine": f"{platform.machine()} {os.cpu_count()} CPUs (shared with other jobs: medians are noisy)",
              "threads": args.threads}
    result["astronaut"] = bench_image(read_image(REPO_DIR / "examples" / "astronaut.jpg"), args.repeat, args.threads)
    wild_root = data_root() / "wild"
    if args.wild and wild_root.is_dir():
        files = sorted(wild_root.rglob("*.jpg"))[: args.wild]
        per_image = [bench_image(read_image(p), max(5, args.repeat // 3), args.threads) for p in files]
        keys = ["mesh_per_face", "mesh_refine_1_pass_per_face", "align_128_per_face", "align_256_per_face",
                "paste_128_per_face", "paste_256_per_face"]
        result["wild"] = {"photos": len(files),
                          "median_size": [int(np.median([r["size"][i] for r in per_image])) for i in (0, 1)],
                          **{f"detect_{m}": summarise(per_image, "detect_per_image", m)
                             for m in ("short", "full", "full_no_tiles", "auto")},
                          **{k: summarise(per_image, k) for k in keys}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    a = result["astronaut"]
    print(
        "astronaut 512²: " + ", ".join(f"detect {k} {v['median_ms']:.1f} ms" for k, v in a["detect_per_image"].items())
    )
    print("  per face: " + ", ".join(f"{k.replace('_per_face', '')} {a[k]['median_ms']:.2f} ms"
                                     for k in a if k.endswith("_per_face")))
    if "wild" in result:
        w = result["wild"]
        print(f"wild ({w['photos']} photos, median {w['median_size']}): " + ", ".join(
            f"{k} {v['median_of_medians_ms']:.2f} ms" for k, v in w.items() if isinstance(v, dict) and v))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

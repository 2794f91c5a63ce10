"""Blend speed (issue 19): the default fill's Poisson blend, multigrid CG vs the exact sparse solve.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/blend_speed.py [--utk 32] [--sizes 128 256]

Real faces, each through S and R at N (the pipeline's own M_O, I_R and M_R): the bundled
``examples/*.jpg`` and, when the shared data is there, the first ``--utk`` faces of the mixed
protocol (UTKFace test split, seeded synthetic occluders; ``deocclude.evaluate.samples``). Faces
whose M_O is empty are left out (nothing to solve). Per face, ``poisson_target`` blends I_R (as
the prior fill guides it) into M_O with the default solve (``harmonic_fill``) and with the
previous, exact one (``harmonic_fill_direct``), timed in turn, the order alternating by repeat,
on ``--threads`` threads. Prints and writes ``benchmarks/results/blend_speed.json`` / ``.md``
(command and commit): ms per face (the mean over faces, median over repeats), the speed-up, the
difference of the two blends inside M_O (grey levels) and a check that pixels outside M_O are the
input's, bit for bit. The machine's load average is recorded: timings on a busy machine are
slower for both solves alike, compare the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from deocclude.imageio import read_image
from deocclude.inpaint.classical import prior_guidance
from deocclude.inpaint.poisson import harmonic_fill, harmonic_fill_direct, poisson_target
from deocclude.paths import REPO_DIR, checkout_commit, utkface_root

RESULTS = REPO_DIR / "benchmarks" / "results"
Face = tuple[str, np.ndarray, np.ndarray, np.ndarray]
"""(name, crop H×W×3 uint8, guidance H×W×3 uint8, M_O H×W float32)."""


def real_faces(size: int, utk: int) -> Iterator[Face]:
    """The example photos' faces and the first ``utk`` mixed-protocol faces at N = ``size``."""
    from deocclude.evaluate.config import Table1Config
    from deocclude.evaluate.fills import AutomaticPipeline
    from deocclude.evaluate.samples import open_protocol
    from deocclude.pipeline import DeoccluderConfig

    pipeline = AutomaticPipeline(DeoccluderConfig(size=size, device="cpu"))
    deoccluder = pipeline.deoccluder
    for path in sorted((REPO_DIR / "examples").glob("*.jpg")):
        for face in deoccluder.find_occlusions(deoccluder.find_faces(read_image(path))):
            if face.status == "ok" and face.render is not None and face.occlusion_mask is not None:
                yield (f"{path.name}#{face.index}", face.aligned.crop,
                       prior_guidance(face.occlusion_mask, face.render, face.face_region), face.occlusion_mask)
    if utk <= 0 or not (utkface_root() / "landmarks.npz").is_file():
        return
    _, batches = open_protocol(Table1Config("mixed", limit=utk, size=size))
    for chunk in batches:
        batch = pipeline(chunk.occluded).batch
        assert batch.occlusion is not None and batch.render is not None and batch.region is not None
        for i, name in enumerate(chunk.names):
            yield (f"utkface/{name}", batch.crops[i], prior_guidance(batch.occlusion[i], batch.render[i],
                                                                     batch.region[i]), batch.occlusion[i])


def timed(solve: Callable[[np.ndarray, np.ndarray], np.ndarray], face: Face) -> tuple[float, np.ndarray]:
    _, crop, guide, hole = face
    start = time.perf_counter()
    out = poisson_target(crop, guide, hole, solve=solve)
    return time.perf_counter() - start, out


def measure(faces: list[Face], repeats: int) -> tuple[dict, list[dict]]:
    """Both solves on every face, ``repeats`` rounds; the summary and one row per face."""
    times = np.zeros((repeats, len(faces), 2))
    outputs: list[tuple[np.ndarray, np.ndarray]] = []
    for rep in range(repeats):
        for k, face in enumerate(faces):
            order = (0, 1) if (rep + k) % 2 == 0 else (1, 0)
            done = {}
            for which in order:
                times[rep, k, which], done[which] = timed((harmonic_fill_direct, harmonic_fill)[which], face)
            if rep == 0:
                outputs.append((done[0], done[1]))
    rows, inside_diffs = [], []
    harmed = 0
    for (name, crop, _, hole), (exact, new), t in zip(faces, outputs, np.median(times, axis=0)):
        inside = hole > 0.5
        harmed += int(not (np.array_equal(new[~inside], crop[~inside]) and np.array_equal(exact[~inside],
                                                                                          crop[~inside])))
        diff = np.abs(new.astype(int) - exact.astype(int))[inside]
        inside_diffs.append(diff)
        rows.append({"face": name, "unknowns": int(inside.sum()), "direct_ms": round(1000 * t[0], 2),
                     "multigrid_ms": round(1000 * t[1], 2), "max_diff": int(diff.max()),
                     "mean_diff": round(float(diff.mean()), 4)})
    per_repeat = times.mean(axis=1)  # (repeats, 2): ms per face in each round
    direct, multigrid = np.median(per_repeat, axis=0)
    pooled = np.concatenate(inside_diffs)
    summary = {"faces": len(faces), "mean_unknowns": round(float(np.mean([r["unknowns"] for r in rows])), 1),
               "direct_ms_per_face": round(1000 * float(direct), 2),
               "multigrid_ms_per_face": round(1000 * float(multigrid), 2),
               "speedup": round(float(direct / multigrid), 2),
               "speedup_per_repeat": [round(float(a / b), 2) for a, b in per_repeat],
               "max_diff": int(pooled.max()), "mean_diff": round(float(pooled.mean()), 4),
               "share_of_pixels_differing": round(float((pooled > 0).mean()), 4),
               "faces_changed_outside_m_o": harmed}
    return summary, rows


def markdown(command: str, commit: str, threads: int, load: list[float], summaries: dict[int, dict]) -> str:
    lines = ["# Blend speed: the default fill's Poisson solve\n",
             f"`{command}` at commit `{commit}`; {threads} thread(s); load average at start {load} "
             "(a busy machine slows both solves: compare the ratio).\n",
             "Per face: `poisson_target` (I_R blended into M_O, pipeline's M_O / I_R at N) with the exact sparse "
             "solve (`harmonic_fill_direct`, the previous default) and the multigrid-preconditioned CG "
             "(`harmonic_fill`), timed in turn. ms/face: mean over faces, median over repeats. Differences: "
             "grey levels, inside M_O, new vs exact; outside M_O both must equal the input bit for bit.\n",
             "| N | faces | mean \\|M_O\\| px | exact ms/face | multigrid ms/face | speed-up (per repeat) "
             "| max diff | mean diff | pixels differing | faces changed outside M_O |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for size, s in summaries.items():
        lines.append(f"| {size} | {s['faces']} | {s['mean_unknowns']:.0f} | {s['direct_ms_per_face']:.1f} | "
                     f"{s['multigrid_ms_per_face']:.1f} | **{s['speedup']:.1f}x** "
                     f"({', '.join(f'{v:.1f}' for v in s['speedup_per_repeat'])}) | {s['max_diff']} | "
                     f"{s['mean_diff']:.3f} | {s['share_of_pixels_differing']:.1%} | "
                     f"{s['faces_changed_outside_m_o']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utk", type=int, default=32, help="mixed-protocol UTKFace test faces (0: examples only)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    load = [round(v, 2) for v in os.getloadavg()]
    summaries, rows = {}, []
    for size in args.sizes:
        faces = [f for f in real_faces(size, args.utk) if (f[3] > 0.5).any()]
        timed(harmonic_fill, faces[0])  # imports and first-call costs out of the timing
        timed(harmonic_fill_direct, faces[0])
        summaries[size], size_rows = measure(faces, args.repeats)
        rows += [{"size": size, **row} for row in size_rows]
        print(f"N = {size}: {summaries[size]}", file=sys.stderr)
    command = "PYTHONPATH=src python benchmarks/blend_speed.py " + " ".join(sys.argv[1:])
    commit = checkout_commit()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "blend_speed.json").write_text(json.dumps(
        {"command": command, "commit": commit, "threads": args.threads, "load_average": load,
         "summary": {str(k): v for k, v in summaries.items()}, "faces": rows}, indent=1) + "\n")
    text = markdown(command, commit, args.threads, load, summaries)
    (args.out / "blend_speed.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

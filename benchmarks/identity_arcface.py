r"""ArcFace-class network (faceplugin fr_feature, our PyTorch port): parity, LFW through our faces path, latency.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data nice -n 10 \
        python benchmarks/identity_arcface.py [--size 128] [--folds 5]

LFW: MediaPipe detection + our 468-point mesh -> canonical N×N crop (the pipeline's framing) ->
5-point ArcFace chip (:func:`deocclude.identity.arcface_align.arcface_chips`) -> network; cosine,
threshold chosen on the other folds (10-fold protocol restricted to ``--folds``). Parity: our
network vs onnxruntime on the same real chips (needs the ``reference`` extra). Writes
``benchmarks/results/identity_arcface.json`` and ``.md`` with the command and commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from deocclude.identity.arcface import ARCFACE_BUNDLED, load_arcface  # noqa: E402
from deocclude.identity.arcface_align import arcface_chips  # noqa: E402
from deocclude.imageio import read_image  # noqa: E402
from deocclude.paths import REPO_DIR, data_root  # noqa: E402
from identity import cosine, folds_accuracy, lfw_pairs  # noqa: E402  (shared LFW protocol helpers)

RESULTS = REPO_DIR / "benchmarks" / "results" / "identity_arcface"
CACHE = Path("/tmp/deocclude_identity_bench")
ONNX = data_root().parent / "models" / "faceplugin" / "fr_feature.onnx"


def lfw_faces(files: list[str], root: Path, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical crops (F, N, N, 3), their landmarks (F, 468, 3) and misses (F,) from our faces path; cached."""
    from deocclude.faces.align import align_face
    from deocclude.faces.detect import FaceDetector
    from deocclude.faces.landmarks import FaceMesh

    cache = CACHE / f"lfw_arcface_{size}_{len(files)}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["crops"], data["landmarks"], data["missed"]
    detector, mesh = FaceDetector(), FaceMesh()
    points: list[np.ndarray | None] = []
    for f in files:
        image = read_image(root / "images" / f)
        h, w = image.shape[:2]
        found = sorted(detector(image), key=lambda d: np.abs(d.box.reshape(2, 2).mean(0) - [w / 2, h / 2]).sum())[:1]
        marks = [m for m in mesh(image, found) if m.present]
        points.append(marks[0].points if marks else None)
    mean = np.mean([p for p in points if p is not None], axis=0)
    missed = np.array([p is None for p in points])
    aligned = [
        align_face(read_image(root / "images" / f), mean if p is None else p, size) for f, p in zip(files, points)
    ]
    crops = np.stack([a.crop for a in aligned])
    landmarks = np.stack([a.landmarks for a in aligned]).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=crops, landmarks=landmarks, missed=missed)
    return crops, landmarks, missed


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128, help="canonical crop size N (the pipeline's default 128)")
    parser.add_argument("--folds", type=int, default=5, help="first K of LFW's 10 folds (300 pairs each)")
    parser.add_argument("--parity-faces", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = data_root() / "faces" / "lfw"
    pairs = [p for p in lfw_pairs(root) if p[0] < args.folds]
    files = sorted({p for pair in pairs for p in pair[1:3]})
    t0 = time.perf_counter()
    crops, landmarks, missed = lfw_faces(files, root, args.size)
    faces_s = time.perf_counter() - t0
    network = load_arcface()
    chips_all, emb = [], []
    with torch.no_grad():
        for i in range(0, len(files), 64):
            chips = arcface_chips(to_tensor(crops[i : i + 64]), torch.from_numpy(landmarks[i : i + 64]))
            chips_all.append(chips[: max(0, args.parity_faces - i)])
            emb.append(network(chips).numpy())
    emb = np.concatenate(emb)
    index = {f: i for i, f in enumerate(files)}
    same = np.array([p[3] for p in pairs])
    fold = np.array([p[0] for p in pairs])
    scores = cosine(emb[[index[p[1]] for p in pairs]], emb[[index[p[2]] for p in pairs]])
    lfw = folds_accuracy(scores, same, fold)
    lfw.update(
        {
            "pairs": len(pairs),
            "images": len(files),
            "crop_size": args.size,
            "mediapipe_missed_used_mean_landmarks": int(missed.sum()),
            "same_cos_mean": float(scores[same].mean()),
            "diff_cos_mean": float(scores[~same].mean()),
            "faceplugin_readme_onnx_5point": 0.986,
        }
    )
    out: dict = {"lfw": lfw}
    chips = torch.cat(chips_all)
    try:
        import onnxruntime as ort

        session = ort.InferenceSession(str(ONNX), providers=["CPUExecutionProvider"])
        ref = np.concatenate([session.run(None, {"input": ((c[None] * 255 - 127) / 128).numpy()})[0] for c in chips])
        with torch.no_grad():
            ours = network(chips).numpy()
        cos = cosine(ours, ref)
        out["parity"] = {"faces": len(chips), "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
                         "max_abs_diff": float(np.abs(ours - ref).max()), "weights": "fp16 bundled"}
    except ImportError:
        out["parity"] = "skipped: onnxruntime not installed (pip install .[reference])"
    latency = {}
    with torch.no_grad():
        for batch in (1, 32):
            x = chips[:batch].repeat(max(1, batch // len(chips[:batch])), 1, 1, 1)[:batch]
            network(x)
            times = []
            for _ in range(5 if batch == 32 else 20):
                t = time.perf_counter()
                network(x)
                times.append(time.perf_counter() - t)
            latency[f"batch_{batch}_ms_per_face"] = 1000 * float(np.median(times)) / batch
    out["latency"] = {**latency, "threads": args.threads, "device": "cpu"}
    out["faces_path_seconds"] = faces_s
    out["weights"] = ARCFACE_BUNDLED.name
    out["command"] = (
        "PYTHONPATH=src DEOCCLUDE_DATA=../shared/data nice -n 10 python benchmarks/identity_arcface.py "
        + " ".join(sys.argv[1:])
    )
    out["commit"] = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_DIR
    ).stdout.strip()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps(out, indent=2) + "\n")
    par = out["parity"]
    md = [
        "# ArcFace-class identity network (faceplugin fr_feature, PyTorch port)", "",
        f"`{out['command']}` at commit `{out['commit']}`", "",
        "| what | result |", "|---|---|",
        f"| LFW folds 1–{args.folds} ({len(pairs)} pairs) through our faces path "
        f"(N = {args.size} crop → 5-point 112 chip) | "
        f"{100 * lfw['accuracy_mean']:.2f} ± {100 * lfw['accuracy_std']:.2f} % "
        "(faceplugin README, ONNX + its own 5-point alignment: 98.60 %) |",
        f"| mean cosine, same / different person | {lfw['same_cos_mean']:.3f} / {lfw['diff_cos_mean']:.3f} |",
        f"| MediaPipe misses (mean landmarks used) | {lfw['mediapipe_missed_used_mean_landmarks']} of {len(files)} |",
        f"| parity vs onnxruntime on {par['faces']} real chips (fp16 weights) "
        f"| lowest cosine {par['cos_min']:.6f}, max abs diff {par['max_abs_diff']:.2g} |"
        if isinstance(par, dict) else f"| parity | {par} |",
        f"| latency, CPU {args.threads} thread | batch 1: {latency['batch_1_ms_per_face']:.1f} ms/face; "
        f"batch 32: {latency['batch_32_ms_per_face']:.1f} ms/face |",
        "",
    ]
    RESULTS.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()

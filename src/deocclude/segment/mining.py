"""Round two of S (docs/method.md §3): find the training faces the round-1 model disagrees with.

The paper hand-relabels the hard examples and retrains. We cannot relabel by hand, so we
rank the train faces (clean, as photographed) by disagreement between the round-1
prediction and the pseudo-label, 1 − IoU(M_F ≥ 0.5, pseudo-label ≥ 0.5) over real-photo
pixels, and the second round shows the top fraction more often
(``deocclude train segment --hard-examples hard.json --hard-fraction 0.2 --hard-repeat 3``).

    python -m deocclude.segment.mining runs/segment-r1/final/weights.safetensors -o runs/hard.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from deocclude.paths import utkface_root
from deocclude.segment.classes import face_probability
from deocclude.segment.data import face_names, load_faces
from deocclude.segment.inference import S_FILE
from deocclude.segment.model import AnySize


@torch.no_grad()
def disagreement(
    weights: Path, split: str = "train", limit: int = 0, device: str = "cpu", batch_size: int = 32, workers: int = 1
) -> dict[str, float]:
    """Per-face 1 − IoU between the model's visible-face mask and the pseudo-label (clean faces)."""
    net, info = S_FILE.load(weights, device)
    assert info.size is not None  # a file with a config always has a size (NetworkFile.read)
    size = info.size
    model = AnySize(net).eval()
    faces = load_faces(utkface_root(), split, size, None, limit)
    loader = DataLoader(faces, batch_size=batch_size, num_workers=workers)
    scores: list[float] = []
    for batch in loader:
        pred = face_probability(model(batch["image"].to(device)))[:, 0].cpu() >= 0.5
        truth = batch["face_mask"][:, 0] >= 0.5
        ok = batch["valid"][:, 0] >= 0.5
        inter = (pred & truth & ok).flatten(1).sum(1).float()
        union = ((pred | truth) & ok).flatten(1).sum(1).float().clamp_min(1)
        scores += (1.0 - inter / union).tolist()
    return {name: round(s, 5) for name, s in zip(face_names(faces), scores)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    scores = disagreement(args.weights, args.split, args.limit, args.device)
    values = np.array(list(scores.values()))
    summary = {
        "faces": len(values),
        "mean": float(values.mean()),
        "p50": float(np.median(values)),
        "p90": float(np.quantile(values, 0.9)),
        "p99": float(np.quantile(values, 0.99)),
        "seconds": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"weights": str(args.weights), "split": args.split, "summary": summary, "disagreement": scores}, indent=1
        )
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

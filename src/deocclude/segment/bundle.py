"""Turn a finished S training run into the bundled fp16 weights file.

    python -m deocclude.segment.bundle runs/segment-r1 [-o src/deocclude/weights/segment_s.safetensors]

The metadata records where the weights came from (run, steps, images, minutes, final val
metrics, git commit) so the model card can be checked against the file itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from deocclude.segment.inference import DEFAULT_WEIGHTS, load_net, save_weights

MAX_BYTES = 25 * 1024 * 1024


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def bundle(run: Path, out: Path = DEFAULT_WEIGHTS, trained_with: str = "") -> Path:
    net, size = load_net(run / "final" / "weights.safetensors")
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    end = [r for r in log if r["event"] == "end"][-1]
    extra = {
        "training_run": run.name,
        "training": json.dumps({k: end[k] for k in ("step", "epochs", "images", "minutes")}),
        "val": json.dumps({k: v for k, v in end.items() if k not in ("event", "step", "epochs", "images", "minutes", "weights")}),
        "bundled_at_commit": _commit(),
        "trained_with_commit": trained_with or "unknown",
        "data": "UTKFace train split (visible_ratio >= 0.7), aligned N=128, deocclude.synth occluders (train split); research-only data",
    }
    path = save_weights(net, out, size, extra)
    if path.stat().st_size >= MAX_BYTES:
        raise SystemExit(f"{path}: {path.stat().st_size} bytes, over the 25 MB budget for bundled weights")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--trained-with", default="", help="commit of the code the run was trained with")
    args = p.parse_args(argv)
    path = bundle(args.run, args.out, args.trained_with)
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Turn a training run into the bundled fp16 weights file (with its config and provenance).

    python -m deocclude.inpaint.bundle runs/inpaint_main [-o src/deocclude/weights/inpaint_g.safetensors]

Reads ``<run>/config.json`` (the generator's shape, the crop size, the ablation flags),
``<run>/final/weights.safetensors`` (the loop's export: the generator's state dict) and the
last lines of ``<run>/log.jsonl`` (steps, minutes, validation metrics), and writes the
fp16 file :func:`deocclude.inpaint.api.load_generator` reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file

from deocclude.errors import DeoccludeError
from deocclude.inpaint.api import DEFAULT_WEIGHTS, save_state, uses_prior_metadata
from deocclude.inpaint.config import InpaintTrainConfig
from deocclude.train.config import load_config


def bundle(run: Path, out: Path = DEFAULT_WEIGHTS) -> dict:
    """Write ``out`` from the run folder ``run``; returns the provenance stored in its metadata."""
    weights = run / "final" / "weights.safetensors"
    if not weights.is_file():
        raise DeoccludeError(f"{weights} not found: the run has not finished (or exported) yet")
    config = load_config(InpaintTrainConfig, run / "config.json")
    end = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "end":
            end = record
    provenance = {
        "prior": config.prior if config.feeds_prior else "none (I_R = zeros)",
        "ssim_loss": str(not config.no_ssim_loss),
        "steps": str(end.get("step", "?")), "images": str(end.get("images", "?")), "minutes": str(end.get("minutes", "?")),
        "val": json.dumps({k: v for k, v in end.items() if k.startswith("val_")}),
        **uses_prior_metadata(config.feeds_prior),
    }
    save_state(load_file(str(weights)), config.generator, out, config.size, provenance)
    return provenance


def main() -> None:
    p = argparse.ArgumentParser(description="bundle a G training run as fp16 safetensors")
    p.add_argument("run", type=Path)
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_WEIGHTS)
    args = p.parse_args()
    info = bundle(args.run, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): {json.dumps(info)}")


if __name__ == "__main__":
    main()

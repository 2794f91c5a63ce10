"""Bundle a finished R run as ``src/deocclude/weights/reconstruct_r.safetensors`` (fp16).

    PYTHONPATH=src python tools/bundle_reconstruct.py runs/reconstruct-r2

The metadata records the run, its steps and minutes, and the face model and teacher cache
it was trained against (x only means something with that face model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from safetensors.torch import load_file

from deocclude.reconstruct.face_model import DEFAULT_PATH as FACE_MODEL
from deocclude.reconstruct.inference import DEFAULT_WEIGHTS, save_weights
from deocclude.reconstruct.regressor import Regressor
from deocclude.reconstruct.regressor_config import ReconstructTrainConfig
from deocclude.train.config import load_config


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a finished `deocclude train reconstruct` run folder")
    ap.add_argument("-o", "--output", default=str(DEFAULT_WEIGHTS))
    args = ap.parse_args()
    run = Path(args.run)
    config = load_config(ReconstructTrainConfig, run / "config.json")
    net = Regressor(config.model)
    net.load_state_dict(load_file(str(run / "final" / "weights.safetensors")))
    end = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"end"' in line][-1]
    face_model = Path(config.face_model) if config.face_model else FACE_MODEL
    extra = {"run": run.name, "steps": str(end["step"]), "minutes": str(end["minutes"]), "images": str(end["images"]),
             "face_model_sha256": sha(face_model), "teacher_sha256": sha(Path(config.teacher)) if config.teacher else ""}
    path = save_weights(net, args.output, config.size, extra)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {json.dumps(extra)}")


if __name__ == "__main__":
    main()

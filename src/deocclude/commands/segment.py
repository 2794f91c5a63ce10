"""``deocclude segment``: visible-face masks (S) for aligned face crops."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  deocclude segment crop.png -o out/                 out/crop_mask.png (255 = visible face) + out/crop_overlay.png
  deocclude segment crops/ -o out/ --device cuda     every image in a folder
  deocclude segment 'crops/*.jpg' -o out/ --prob     also write the probability as 8-bit PNG

Inputs are aligned face crops (any size; framed like deocclude's canonical crop or a
UTKFace 200x200 crop). Photos must be aligned first (the faces path of `deocclude run`).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "segment",
        help="visible-face masks (S) of aligned face crops",
        description="Predict which pixels of aligned face crops are visible face (skin, eyes, brows, nose, lips), as opposed to occluders or hair.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("-o", "--out", required=True, help="output folder (created)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p.add_argument("--weights", default=None, help="weights file (default: the bundled segment_s.safetensors)")
    p.add_argument("--threshold", type=float, default=0.5, help="probability above which a pixel is visible face (default 0.5)")
    p.add_argument("--prob", action="store_true", help="also write the probability map (<name>_prob.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image, write_image, write_mask
    from deocclude.segment.inference import DEFAULT_WEIGHTS, load_segmenter
    from deocclude.segment.io import expand_inputs, overlay_mask

    if not 0.0 < args.threshold < 1.0:
        raise DeoccludeError(f"--threshold must be between 0 and 1, got {args.threshold}")
    files = expand_inputs(args.inputs)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DeoccludeError(f"{out}: exists and is not a folder")
    model = load_segmenter(str(args.weights or DEFAULT_WEIGHTS), args.device)
    inputs = {f.resolve() for f in files}
    for path in files:
        image = read_image(path)
        prob = model(image)
        mask = (prob >= args.threshold).astype(np.float32)
        targets = {"mask": out / f"{path.stem}_mask.png", "overlay": out / f"{path.stem}_overlay.png"}
        if args.prob:
            targets["prob"] = out / f"{path.stem}_prob.png"
        for target in targets.values():
            if target.resolve() in inputs:
                raise DeoccludeError(f"{target}: refusing to overwrite an input file")
        write_mask(targets["mask"], mask)
        write_image(targets["overlay"], overlay_mask(image, mask))
        if args.prob:
            write_mask(targets["prob"], prob)
        print(f"{path} -> {targets['mask']} (visible face: {mask.mean():.1%} of the crop)")
    return 0

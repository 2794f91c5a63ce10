"""``deocclude segment``: visible-face masks (S) of photos or aligned face crops."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """\
examples:
  deocclude segment photo.jpg -o out/             every face: out/photo_mask.png (255 = visible face), \
out/photo_overlay.png
  deocclude segment photos/ -o out/ --prob        also the probability map (<name>_prob.png)
  deocclude segment crops/ -o out/ --aligned      inputs are already aligned face crops (any size)

Overlay colours: green = visible face, red = occluded face (M_O = face surface minus visible face).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "segment",
        help="visible-face masks (S) of photos or aligned face crops",
        description="Predict which pixels are visible face (skin, eyes, brows, nose, lips), as opposed to occluders "
        "or hair. Photos go through face detection, landmarks and alignment first.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("-o", "--out", required=True, help="output folder (created; must not be an input folder)")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops: skip detection and alignment")
    p.add_argument("--size", type=int, default=128, help="aligned crop size for photos (default 128)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p.add_argument("--weights", default=None, help="weights file (default: the bundled segment_s.safetensors)")
    p.add_argument(
        "--threshold", type=float, default=0.5, help="probability above which a pixel is visible face (default 0.5)"
    )
    p.add_argument("--prob", action="store_true", help="also write the probability map (<name>_prob.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.faces.find import FaceFinder
    from deocclude.imageio import read_image, write_image, write_mask
    from deocclude.inputs import prepare_batch
    from deocclude.segment.inference import DEFAULT_WEIGHTS, load_segmenter
    from deocclude.segment.photos import segment_photo
    from deocclude.visualize import overlay_mask

    if not 0.0 < args.threshold < 1.0:
        raise DeoccludeError(f"--threshold must be between 0 and 1, got {args.threshold}")
    out = Path(args.out)
    found = prepare_batch(args.inputs, out)
    model = load_segmenter(str(args.weights or DEFAULT_WEIGHTS), args.device)
    finder = None if args.aligned else FaceFinder(args.size)
    failures = len(found.problems)
    for path in found.files:
        try:
            image = read_image(path)
        except DeoccludeError as exc:
            print(f"deocclude: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        if args.aligned:
            prob = np.asarray(model(image))
            occluded = np.zeros_like(prob)
            faces = 1
        else:
            masks = segment_photo(image, model, finder)
            prob, faces = masks.visible, len(masks.faces)
            occluded = masks.surface * (prob < args.threshold)
        visible = (prob >= args.threshold).astype(np.float32)
        write_mask(out / f"{path.stem}_mask.png", visible)
        write_image(
            out / f"{path.stem}_overlay.png",
            overlay_mask(overlay_mask(image, visible, (0, 255, 0), 0.4), occluded, (255, 0, 0), 0.5),
        )
        if args.prob:
            write_mask(out / f"{path.stem}_prob.png", prob)
        if faces == 0:
            print(f"{path}: no face found (empty mask written)")
            failures += 1
        else:
            print(f"{path} -> {out / (path.stem + '_mask.png')} "
                  f"({faces} face(s), visible face {visible.mean():.1%} of the image)")
    return 1 if failures else 0

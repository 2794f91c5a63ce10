"""``deocclude inpaint``: fill a masked region of an (aligned) face crop with G."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """\
examples:
  deocclude inpaint crop.png --mask hole.png -o filled.png
  deocclude inpaint crop.png --mask hole.png -o filled.png --method telea       OpenCV baseline
  deocclude inpaint crop.png --mask hole.png --prior render.png -o filled.png   with a rendered 3D face I_R

The mask is a grey or RGB image of the same size: 255 (white) = fill, 0 = keep. Pixels
outside the mask are copied unchanged. G was trained on aligned face crops (the
framing of `deocclude run`'s crops); on other pictures it still fills, less well.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inpaint",
        help="fill a masked region of a face crop (G, or OpenCV)",
        description="Fill the pixels a mask marks (255 = hole) with the guided-inpainting network G "
        "or a classical OpenCV method; every other pixel is kept exactly.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", type=Path, help="input image (aligned face crop)")
    p.add_argument("--mask", required=True, type=Path, help="mask image, same size, 255 = hole")
    p.add_argument("-o", "--output", required=True, type=Path, help="output image file (.png recommended)")
    p.add_argument("--prior", type=Path, default=None,
                   help="rendered 3D face I_R, same size (default: rendered by the bundled R from the crop, "
                        "which must then be a canonical aligned crop)")
    p.add_argument("--method", choices=["g", "telea", "navier-stokes"], default="g", help="fill method (default: g)")
    p.add_argument("--weights", type=Path, default=None, help="G weights (default: the bundled inpaint_g.safetensors)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise put into the hole (default 0)")
    p.set_defaults(func=run)


def _read_mask(path: Path, shape: tuple[int, int]):
    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image

    mask = read_image(path).max(axis=2)
    if mask.shape != shape:
        raise DeoccludeError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}")
    return (mask > 127).astype(np.uint8)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image, write_image

    if args.output.resolve() in (args.image.resolve(), args.mask.resolve()):
        raise DeoccludeError(f"refusing to overwrite an input: {args.output}")
    image = read_image(args.image)
    hole = _read_mask(args.mask, image.shape[:2])
    prior = None
    if args.prior is not None:
        prior = read_image(args.prior)
        if prior.shape != image.shape:
            raise DeoccludeError(f"prior {args.prior} is {prior.shape[1]}x{prior.shape[0]} "
                                 f"but the image is {image.shape[1]}x{image.shape[0]}")
    if args.method == "g":
        from deocclude.inpaint.api import DEFAULT_WEIGHTS, inpaint

        result = inpaint(
            image, hole, prior, device=args.device, weights=args.weights or DEFAULT_WEIGHTS, seed=args.seed
        )
        assert isinstance(result, np.ndarray)  # a numpy image in, a numpy image out
    else:
        from deocclude.inpaint.classical import classical_inpaint

        result = classical_inpaint(image, hole, args.method)
    write_image(args.output, result)
    print(f"{args.output}: filled {int(hole.sum())} pixels with {args.method}")
    return 0

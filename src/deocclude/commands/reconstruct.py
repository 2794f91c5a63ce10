"""``deocclude reconstruct``: R's 3-D face (render I_R, mask M_R, .obj) of photos or aligned crops."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  deocclude reconstruct photo.jpg -o out/            every face k: out/photo_face<k>_render.png, \
_mask.png, .obj, _input.png
  deocclude reconstruct crops/ -o out/ --aligned     inputs are aligned face crops: out/<name>_render.png, \
_mask.png, .obj
  deocclude reconstruct photo.jpg -o out/ --coefficients   also the 257 numbers of x as <name>.npy

R is trained on synthetically occluded faces, so sunglasses, masks and hands should not
pull the reconstruction off the face. Renders and masks are in the aligned crop's frame.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reconstruct",
        help="occlusion-robust 3D face reconstruction (R): render, face mask and .obj per face",
        description="Regress the face model's coefficients x (pose, shape, albedo, SH light) from every face and "
        "write its render I_R, its coverage M_R (255 = face surface) and the posed mesh as a Wavefront .obj with "
        "vertex colours. Photos go through face detection, landmarks and alignment first.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("-o", "--out", required=True, help="output folder (created; must not be an input folder)")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops: skip detection and alignment")
    p.add_argument("--size", type=int, default=128, help="aligned crop size for photos (default 128)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p.add_argument("--weights", default=None, help="weights file (default: the bundled reconstruct_r.safetensors)")
    p.add_argument("--coefficients", action="store_true", help="also write x (257 float32) as <name>.npy")
    p.set_defaults(func=run)


def _faces(image, aligned_input: bool, finder):  # noqa: ANN001, ANN202 - numpy / a FaceFinder
    """(suffix, aligned crop) for every face of one input."""
    if aligned_input:
        if image.shape[0] != image.shape[1]:
            from deocclude.errors import DeoccludeError

            raise DeoccludeError(f"an aligned crop must be square, got {image.shape[1]}x{image.shape[0]}")
        return [("", image)]
    return [(f"_face{k}", face.aligned.crop) for k, face in enumerate(finder(image))]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image, write_image, write_mask
    from deocclude.inputs import prepare_batch
    from deocclude.reconstruct.inference import DEFAULT_WEIGHTS, Reconstructor, write_obj

    if args.size < 32 or args.size % 32:
        raise DeoccludeError(f"--size must be a multiple of 32 (at least 32), got {args.size}")
    out = Path(args.out)
    found = prepare_batch(args.inputs, out)
    model = Reconstructor(args.weights or DEFAULT_WEIGHTS, device=args.device)
    finder = None
    if not args.aligned:
        from deocclude.faces.find import FaceFinder

        finder = FaceFinder(args.size)
    failures = len(found.problems)
    for path in found.files:
        try:
            faces = _faces(read_image(path), args.aligned, finder)
        except DeoccludeError as exc:
            print(f"deocclude: error: {path}: {exc}")
            failures += 1
            continue
        if not faces:
            print(f"{path}: no face found")
            failures += 1
            continue
        for suffix, crop in faces:
            x, render, mask = model(crop)
            verts, colours, triangles = model.mesh(x)
            stem = out / f"{path.stem}{suffix}"
            write_image(f"{stem}_render.png", (render[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8))
            write_mask(f"{stem}_mask.png", mask[0, 0].cpu().numpy())
            write_obj(f"{stem}.obj", verts[0], triangles, colours[0])
            if not args.aligned:
                write_image(f"{stem}_input.png", crop)
            if args.coefficients:
                np.save(f"{stem}.npy", x[0].cpu().numpy().astype(np.float32))
        print(f"{path} -> {out} ({len(faces)} face(s))")
    return 1 if failures else 0

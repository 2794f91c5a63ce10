"""``deocclude inpaint``: fill a region a mask marks, in a whole photo (its faces aligned first) or an aligned crop."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from deocclude.pipeline import Deoccluder, FaceResult

EXAMPLES = """\
examples:
  deocclude inpaint photo.jpg --mask hole.png -o filled.png                 a photo: faces found, aligned, filled
  deocclude inpaint photo.jpg --mask hole.png -o filled.png --fill g        the learned G instead of the auto fill
  deocclude inpaint crop.png --mask hole.png -o filled.png --aligned        an aligned crop, filled as it is (G)
  deocclude inpaint crop.png --mask hole.png -o filled.png --aligned --fill telea   OpenCV baseline
  deocclude inpaint crop.png --mask hole.png --prior render.png -o filled.png       with a rendered 3D face I_R

The mask is a grey or RGB image of the same size as the input: 255 (white) = fill, 0 = keep.
Pixels outside the mask are copied unchanged (bit for bit).

Photo mode (the default): every face is detected and aligned as in `deocclude run`, S and R
run on its crop (R's render I_R guides the fill), the mask warped into the crop replaces the
occlusion mask S would have found, the crop is filled with --fill and pasted back, fading in
inside the mask. Mask pixels outside every face (or all of them when no face is found) are
filled with OpenCV Telea in the photo; a note says so, and OUTPUT.json (the output's name with
.json) records the faces found, each face's fill and masked share of its crop, and how many
hole pixels got the classical fill.

Aligned mode (--aligned, or --prior, or an input that is itself a canonical crop, e.g. one
`deocclude run --save-intermediates` wrote): the image is filled directly, as G was trained.
--method g|telea|navier-stokes is the old spelling of --fill and still works.
"""

CLASSICAL_LABEL = "OpenCV Telea"
"""The fill of mask pixels outside every face: no face, no prior, so the classical baseline."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from deocclude.fills import fill_choices

    p = subparsers.add_parser(
        "inpaint",
        help="fill a masked region of a photo's faces or of a face crop (G, R's render, or OpenCV)",
        description="Fill the pixels a mask marks (255 = hole): in a photo, each face is aligned, filled with "
        "--fill and pasted back; an aligned crop (--aligned) is filled directly. Every other pixel is kept exactly.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", type=Path, help="input photo, or an aligned face crop (with --aligned)")
    p.add_argument("--mask", required=True, type=Path, help="mask image, same size, 255 = hole")
    p.add_argument("-o", "--output", required=True, type=Path, help="output image file (.png recommended)")
    p.add_argument("--aligned", action="store_true",
                   help="the input is an aligned face crop: fill it directly (no face detection, no manifest)")
    p.add_argument("--fill", choices=fill_choices(), default=None,
                   help="how to fill, the choices of `deocclude run --fill` (default: auto = R's render blended "
                        "in on photos; G on aligned crops, as before)")
    p.add_argument("--method", choices=sorted(_METHOD_TO_FILL), default=None,
                   help="deprecated spelling of --fill (g, telea, navier-stokes)")
    p.add_argument("--prior", type=Path, default=None,
                   help="rendered 3D face I_R, same size; implies --aligned (default: rendered by the bundled R "
                        "from the crop, which must then be a canonical aligned crop)")
    p.add_argument("--weights", type=Path, default=None, help="G weights (default: the bundled inpaint_g.safetensors)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of G's noise in the hole, aligned mode (default 0)")
    p.set_defaults(func=run)


_METHOD_TO_FILL = {"g": "g", "telea": "telea", "navier-stokes": "navier-stokes"}


def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image

    mask = read_image(path).max(axis=2)
    if mask.shape != shape:
        raise DeoccludeError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}")
    return (mask > 127).astype(np.uint8)


def manifest_path(output: Path) -> Path:
    """Where photo mode writes its manifest: beside the output, its name with ``.json``."""
    return output.with_suffix(".json")


def _choose_fill(args: argparse.Namespace) -> str | None:
    """``--fill``, or the deprecated ``--method`` mapped onto it (None: the mode's own default)."""
    from deocclude.errors import DeoccludeError

    if args.method is None:
        return args.fill
    mapped = _METHOD_TO_FILL[args.method]
    if args.fill is not None and args.fill != mapped:
        raise DeoccludeError(f"--method {args.method} contradicts --fill {args.fill}; use --fill only")
    print(f"note: --method is deprecated, use --fill {mapped}", file=sys.stderr)
    return mapped


def run(args: argparse.Namespace) -> int:
    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image

    fill = _choose_fill(args)
    aligned = args.aligned or args.prior is not None
    outputs = [args.output] if aligned else [args.output, manifest_path(args.output)]
    inputs = [p.resolve() for p in (args.image, args.mask, args.prior) if p is not None]
    for path in outputs:
        if path.resolve() in inputs:
            raise DeoccludeError(f"refusing to overwrite an input: {path}")
    if len(outputs) == 2 and outputs[0].resolve() == outputs[1].resolve():
        raise DeoccludeError(f"the output {args.output} would be overwritten by its manifest: use another suffix")
    image = read_image(args.image)
    hole = _read_mask(args.mask, image.shape[:2])
    if aligned:
        return _run_aligned(args, image, hole, fill)
    return _run_photo(args, image, hole, fill or "auto")


def _run_aligned(args: argparse.Namespace, image: np.ndarray, hole: np.ndarray, fill: str | None) -> int:
    """The crop is filled as it is (the command's behaviour before photo mode): G, OpenCV, or R's render."""
    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image, write_image

    fill = "g" if fill in (None, "auto") else fill  # G was the default here, and stays so
    prior = None
    if args.prior is not None:
        prior = read_image(args.prior)
        if prior.shape != image.shape:
            raise DeoccludeError(f"prior {args.prior} is {prior.shape[1]}x{prior.shape[0]} "
                                 f"but the image is {image.shape[1]}x{image.shape[0]}")
    if fill == "g":
        from deocclude.inpaint.api import DEFAULT_WEIGHTS, inpaint

        result = inpaint(
            image, hole, prior, device=args.device, weights=args.weights or DEFAULT_WEIGHTS, seed=args.seed
        )
        assert isinstance(result, np.ndarray)  # a numpy image in, a numpy image out
    elif fill in ("telea", "navier-stokes"):
        from deocclude.inpaint.classical import classical_inpaint

        result = classical_inpaint(image, hole, fill)  # type: ignore[arg-type]  # checked just above
    else:  # a registry fill that needs the pipeline's batch (R's render): the crop is one canonical face
        result = _fill_crop(args, image, hole, fill)
    write_image(args.output, result)
    print(f"{args.output}: filled {int(hole.sum())} pixels with {fill}")
    return 0


def _fill_crop(args: argparse.Namespace, image: np.ndarray, hole: np.ndarray, fill: str) -> np.ndarray:
    """``--aligned --fill prior`` (or another registry fill): the crop through :meth:`Deoccluder.fill_with_masks`."""
    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    side = image.shape[0]
    if image.shape[1] != side or side % 32 or side < 64:
        raise DeoccludeError(f"--fill {fill} on an aligned crop needs a square side that is a multiple of 32 "
                             f"(>= 64), got {image.shape[1]}x{image.shape[0]}")
    deoccluder = Deoccluder(DeoccluderConfig(size=side, fill=fill, device=args.device, max_background_share=1.0))
    faces = deoccluder.fill_with_masks(deoccluder.aligned_faces([image]), [hole.astype(np.float32)])
    if faces[0].status != "ok" or faces[0].restored is None:
        raise DeoccludeError(f"--fill {fill}: {faces[0].status}")
    return np.where(hole[..., None] > 0, faces[0].restored, image)


def _make_deoccluder(args: argparse.Namespace, fill: str) -> Deoccluder:
    """The pipeline without the working frame (a user's hole never grows past the crop); G from ``--weights``."""
    from deocclude.fills import make_fill
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    custom_g = fill == "g" and args.weights is not None
    config = DeoccluderConfig(fill="telea" if custom_g else fill, device=args.device, past_crop=False)
    deoccluder = Deoccluder(config)
    if custom_g:  # built here so that bundled G weights are not required when the user brings their own
        deoccluder.fill = make_fill("g", device=deoccluder.device, weights=str(args.weights),
                                    half=deoccluder.uses_half)
    return deoccluder


def _is_canonical_crop(image: np.ndarray, faces: list[FaceResult]) -> bool:
    """True when the photo is itself an aligned crop: one face whose alignment is (nearly) a plain resize.

    Why: old commands passed the crops `deocclude run` writes; re-aligning them would resample the face twice.
    """
    import numpy as np

    side = image.shape[0]
    if image.shape[1] != side or len(faces) != 1:
        return False
    matrix = faces[0].aligned.matrix
    n, scale = faces[0].aligned.size, faces[0].aligned.size / side
    expected = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
    linear_ok = np.abs(matrix[:, :2] - expected[:, :2]).max() < 0.08 * scale
    return bool(linear_ok and np.abs(matrix[:, 2]).max() < 0.06 * n)


def _warp_to_crop(hole: np.ndarray, face: FaceResult) -> np.ndarray:
    """The photo-space hole in the face's N×N frame, 1 wherever the hole touches a crop pixel.

    Touching (not half-covering) so that warped back for the paste it covers the whole photo-space hole;
    the command then keeps only the hole's own pixels, so nothing outside it changes.
    """
    import cv2
    import numpy as np

    from deocclude.faces.align import to_opencv

    n = face.aligned.size
    warped = cv2.warpAffine(hole.astype(np.float32), to_opencv(face.aligned.matrix), (n, n), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return ((warped > 0.01) & (face.aligned.valid > 0.5)).astype(np.float32)


def _crop_in_photo(face: FaceResult, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the photo pixels the face's crop shows (its real pixels, not the filled border)."""
    import cv2
    import numpy as np

    from deocclude.faces.align import invert_affine, to_opencv

    back = cv2.warpAffine(face.aligned.valid.astype(np.float32), to_opencv(invert_affine(face.aligned.matrix)),
                          (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return back > 0.5


def _run_photo(args: argparse.Namespace, photo: np.ndarray, hole: np.ndarray, fill: str) -> int:
    """Faces found and aligned, each filled in its frame and pasted back; the rest of the hole by Telea."""
    import numpy as np

    from deocclude.imageio import write_image
    from deocclude.inpaint.classical import classical_inpaint

    deoccluder = _make_deoccluder(args, fill)
    faces = deoccluder.find_faces(photo)
    if _is_canonical_crop(photo, faces):
        print(f"note: {args.image} is an aligned face crop: filled directly (as --aligned)", file=sys.stderr)
        return _run_aligned(args, photo, hole, None if fill == "auto" else fill)
    masks = [_warp_to_crop(hole, face) for face in faces]
    deoccluder.fill_with_masks(faces, masks)
    pasted = deoccluder.paste_faces(photo, faces)
    inside = hole > 0
    output = np.where(inside[..., None], pasted.photo, photo)  # the paste may reach a pixel past the hole's rim
    weight = pasted.paste_weight if pasted.paste_weight is not None else np.zeros(hole.shape, np.float32)
    classical = inside & (weight <= 0)  # outside every face, on a face the fill left alone, or lost at a crop edge
    covered = np.zeros(hole.shape, bool)
    for face in faces:
        covered |= _crop_in_photo(face, hole.shape)
    if classical.any():
        output = classical_inpaint(output, classical, "telea")
    write_image(args.output, output)
    outside = int((inside & ~covered).sum())
    manifest = {
        "input": str(args.image),
        "mask": str(args.mask),
        "output": str(args.output),
        "fill": fill,
        "faces_found": len(faces),
        "faces": [_face_entry(face, mask) for face, mask in zip(faces, masks)],
        "hole_pixels": int(inside.sum()),
        "classical_fill": CLASSICAL_LABEL,
        "classical_fill_pixels": int(classical.sum()),
        "outside_faces_pixels": outside,
    }
    manifest_path(args.output).write_text(json.dumps(manifest, indent=2) + "\n")
    if classical.any():
        where = "no face was found" if not faces else f"{outside} of them outside every face"
        print(f"note: {int(classical.sum())} hole pixels filled with {CLASSICAL_LABEL} in the photo ({where})",
              file=sys.stderr)
    done = sum(face.status == "ok" for face in faces)
    print(f"{args.output}: filled {int(inside.sum())} pixels: {done} of {len(faces)} faces with {fill}, "
          f"{int(classical.sum())} with {CLASSICAL_LABEL}; manifest {manifest_path(args.output)}")
    return 0


def _face_entry(face: FaceResult, mask: np.ndarray) -> dict:
    """One face in the manifest: where it is, what filled it, how much of its crop the hole covered."""
    box = None
    if face.detection is not None:
        d = face.detection
        box = [round(float(v), 1) for v in (d.x0, d.y0, d.x1, d.y1)]
    return {
        "index": face.index,
        "box": box,
        "status": face.status,
        "fill": face.method,
        "masked_share": round(float(mask.mean()), 4),
    }

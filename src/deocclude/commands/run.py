"""``deocclude run``: de-occlude every face in photos, folders or globs."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DESCRIPTION = """\
Find every face in each photo, estimate what covers it (S: visible face, M_R: face
surface), fill the covered part and paste the result back into the full-resolution photo.
Only occluded face pixels change; the rest of the photo is untouched.

Writes, per input photo, into OUTDIR:
  NAME<suffix>.png        the de-occluded photo
  NAME_occlusion.png      where it changed: the occlusion mask M_O in photo pixels (255 = occluded)
  NAME_faces.png          one row per face: aligned crop, landmarks, occlusion mask, result
  NAME/                   with --save-intermediates: every crop and mask as its own PNG
and manifest.json (per file: faces found, occluded fraction, status, timings).
Masks are PNGs with 255 = occluded (M_O) or 255 = face (M_F, M_R)."""

EPILOG = """\
examples:
  deocclude run examples/astronaut.jpg -o out/
  deocclude run photos/ -o cleaned/ --only-largest-face
  deocclude run 'shoot/*.jpg' -o out/ --size 256 --save-intermediates

exit status: 0 all photos processed, 1 some photos failed or had no face, 2 bad arguments."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="de-occlude faces in photos (files, folders, globs)", description=DESCRIPTION,
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or glob patterns")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR", help="folder for results (created)")
    p.add_argument("--size", type=int, default=128, help="aligned crop size, a multiple of 32 (default 128)")
    p.add_argument("--detector", choices=["auto", "short", "full"], default="auto",
                   help="face detector: short range for large faces, full range for small ones (default auto)")
    p.add_argument("--min-face-score", type=float, default=0.5, help="detection confidence threshold (default 0.5)")
    p.add_argument("--only-largest-face", action="store_true", help="process only the largest face of each photo")
    p.add_argument("--mask-threshold", type=float, default=0.5, help="visible-face probability below which a face pixel is occluded")
    p.add_argument("--dilate", type=int, default=2, help="grow the occlusion mask by this many crop pixels (default 2)")
    p.add_argument("--no-extend", action="store_true",
                   help="replace only inside the face surface M_R, as the paper does (default: also remove the "
                        "parts of an occluder that run past it: temples, straps, hands, scarves)")
    p.add_argument("--fill", choices=["auto", "prior", "telea", "navier-stokes", "g"], default="auto",
                   help="how to fill occluded pixels: auto = the best by our benchmarks (prior: R's 3D face render "
                        "Poisson-blended in, Telea without R), telea / navier-stokes = OpenCV, g = the learned G")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1 ... (default auto)")
    p.add_argument("--suffix", default="", help="appended to output photo names, e.g. _clean")
    p.add_argument("--skip-existing", action="store_true", help="skip photos whose output already exists")
    p.add_argument("--save-intermediates", action="store_true", help="also write every crop and mask per face")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of input folders")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from deocclude.inputs import prepare_batch
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    console = Console(stderr=True, soft_wrap=True)
    out_dir: Path = args.output
    found = prepare_batch(args.inputs, out_dir, args.recursive,
                          report=lambda problem: console.print(f"[red]error:[/red] {problem}", highlight=False))

    config = DeoccluderConfig(size=args.size, detector=args.detector, min_face_score=args.min_face_score,
                              only_largest_face=args.only_largest_face, mask_threshold=args.mask_threshold,
                              dilate=args.dilate, fill=args.fill, device=args.device,
                              extend=not args.no_extend)
    deoccluder = Deoccluder(config)
    if not deoccluder.can_remove_occlusions:
        console.print("[yellow]note:[/yellow] no segmentation weights installed: running the faces path only "
                      "(detect, align, paste back); photos come out unchanged.")
    manifest: dict = {"config": {k: v for k, v in vars(args).items() if k != "func"} | {"output": str(out_dir)}, "files": []}
    names = _unique_output_names(found.files)
    failures = len(found.problems)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=not console.is_terminal) as progress:
        task = progress.add_task("de-occluding", total=len(found.files))
        for path, name in zip(found.files, names):
            entry = _process_file(deoccluder, path, name, out_dir, args, progress.console)
            manifest["files"].append(entry)
            failures += entry["status"] not in ("ok", "skipped")
            progress.advance(task)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    done = sum(e["status"] == "ok" for e in manifest["files"])
    skipped = sum(e["status"] == "skipped" for e in manifest["files"])
    faces = sum(len(e.get("faces", [])) for e in manifest["files"])
    console.print(f"{done} photo(s) processed ({faces} face(s)), {skipped} skipped, {failures} failed → {out_dir}")
    return 1 if failures else 0


def _unique_output_names(files: list[Path]) -> list[str]:
    """Output stems, unique even when two inputs share a name in different folders."""
    names, used = [], set()
    for path in files:
        name, n = path.stem, 2
        while name in used:
            name, n = f"{path.stem}_{n}", n + 1
        used.add(name)
        names.append(name)
    return names


def _process_file(deoccluder, path: Path, name: str, out_dir: Path, args: argparse.Namespace, console) -> dict:  # noqa: ANN001
    from deocclude.errors import DeoccludeError
    from deocclude.imageio import read_image, write_image, write_mask
    from deocclude.report import face_grid, write_face_intermediates

    entry: dict = {"input": str(path), "output": str(out_dir / f"{name}{args.suffix}.png")}
    out_photo = Path(entry["output"])
    if args.skip_existing and out_photo.exists():
        return entry | {"status": "skipped"}
    started = time.perf_counter()
    try:
        photo = read_image(path)
        result = deoccluder.run(photo)
    except DeoccludeError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return entry | {"status": f"error: {exc}"}
    except Exception as exc:  # a broken photo must not stop the batch
        console.print(f"[red]error:[/red] {path}: {type(exc).__name__}: {exc}", highlight=False)
        return entry | {"status": f"error: {type(exc).__name__}: {exc}"}
    if not result.faces:
        console.print(f"[yellow]no face:[/yellow] {path}: no face found (photo not written)", highlight=False)
        return entry | {"status": "no face", "output": None, "seconds": time.perf_counter() - started}
    write_image(out_photo, result.photo)
    if any(face.occlusion_mask is not None for face in result.faces):
        write_mask(out_dir / f"{name}_occlusion.png", result.occlusion_mask())
    write_image(out_dir / f"{name}_faces.png", face_grid(result))
    if args.save_intermediates:
        write_face_intermediates(out_dir / name, result)
    for face in result.faces:
        if face.status != "ok":
            console.print(f"[yellow]face {face.index} of {path} kept as is:[/yellow] {face.status}", highlight=False)
    return entry | {
        "status": "ok",
        "seconds": round(time.perf_counter() - started, 4),
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "faces": [
            {
                "index": f.index,
                "box": [round(float(v), 1) for v in f.detection.box],
                "score": round(f.detection.score, 4),
                "occluded_fraction": round(f.occluded_fraction, 4),
                "method": f.method,
                "status": f.status,
            }
            for f in result.faces
        ],
    }

"""``deocclude synth``: preview synthetic occlusions, or write a seeded protocol set."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """\
examples:
  deocclude synth --preview grid.png                 a grid of samples per category
  deocclude synth --preview grid.png --split test    only held-out occluders
  deocclude synth --preview grid.png --each          also grid_<category>.png per category
  deocclude synth --protocol sunglasses --write out/sunglasses
  deocclude synth --protocol mixed --write out/mixed --limit 100
  deocclude synth --preview masks.png --categories surgical_mask,kn95_mask,thin_glasses --split test
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth", help="synthetic occlusions: preview grids and seeded test protocols",
        description="Draw synthetic occluders (masks, glasses, hands, objects, hair, scarves, blobs; surgical and "
                    "KN95 masks and thin glasses after real photos) on aligned "
                    "faces: preview a grid per category, or write a seeded evaluation protocol to a folder.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--preview", metavar="PNG", type=Path, help="write a grid of samples per category")
    what.add_argument("--protocol", choices=("sunglasses", "mixed", "facemask", "eyeglasses"),
                      help="a seeded protocol set (needs --write)")
    p.add_argument("--write", metavar="DIR", type=Path, help="folder for the protocol set")
    p.add_argument("--split", choices=("train", "test"), default="train", help="occluders to preview (default train)")
    p.add_argument("--categories", default=None, help="comma-separated categories to preview (default all available)")
    p.add_argument("--columns", type=int, default=8, help="samples per category in the preview (default 8)")
    p.add_argument("--each", action="store_true", help="with --preview: also one PNG per category next to it")
    p.add_argument("--seed", type=int, default=None, help="random seed (protocol default: 20261125; preview: 0)")
    p.add_argument("--size", type=int, default=128, help="aligned crop size N (default 128)")
    p.add_argument("--limit", type=int, default=None, help="with --protocol: only the first N faces")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deocclude.errors import DeoccludeError

    if args.size < 32 or args.size > 1024:
        raise DeoccludeError(f"--size must be between 32 and 1024, got {args.size}")
    if args.protocol:
        if args.write is None:
            raise DeoccludeError("--protocol needs --write DIR")
        return _write_protocol(args)
    if args.write is not None:
        raise DeoccludeError("--write goes with --protocol")
    if args.columns < 1 or args.columns > 64:
        raise DeoccludeError(f"--columns must be between 1 and 64, got {args.columns}")
    return _preview(args)


def _write_protocol(args: argparse.Namespace) -> int:
    from deocclude.data import UTKFaceFaces
    from deocclude.synth.protocols import DEFAULT_SEED, write_protocol

    faces = UTKFaceFaces(split="test", size=args.size)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    stats = write_protocol(args.protocol, args.write, faces, seed=seed, limit=args.limit)
    a = stats["all"]
    print(f"wrote {a['n']} faces to {args.write}: face coverage mean {a['mean']:.3f}, "
          f"p10 {a['p10']:.3f}, p90 {a['p90']:.3f}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    import numpy as np

    from deocclude.errors import DeoccludeError
    from deocclude.imageio import write_image
    from deocclude.synth import CATEGORIES, OcclusionSynthesizer, SynthConfig
    from deocclude.synth.preview import preview_faces, render_grid

    out = Path(args.preview)
    if out.suffix.lower() != ".png":
        raise DeoccludeError(f"--preview must name a .png file, got {out}")
    synth = OcclusionSynthesizer(SynthConfig(categories=CATEGORIES), split=args.split)  # the opt-in kinds too
    cats = synth.categories
    if args.categories:
        wanted = tuple(c.strip() for c in args.categories.split(",") if c.strip())
        bad = [c for c in wanted if c not in CATEGORIES]
        if bad:
            raise DeoccludeError(f"unknown categories {bad}; known: {', '.join(CATEGORIES)}")
        missing = [c for c in wanted if c not in cats]
        if missing:
            raise DeoccludeError(f"categories {missing} need the occluder bank (set DEOCCLUDE_DATA)")
        cats = wanted
    faces, source = preview_faces(args.columns, args.size)
    seed = 0 if args.seed is None else args.seed
    rows = {}
    for ci, cat in enumerate(cats):
        cells = []
        for j, (img, lm) in enumerate(faces):
            occ = synth(img, lm, np.random.default_rng([seed, ci, j]), cat)
            cells.append((occ.image, occ.alpha))
        rows[cat] = cells
    write_image(out, render_grid(rows))
    if args.each:
        for cat, cells in rows.items():
            write_image(out.with_name(f"{out.stem}_{cat}.png"), render_grid({cat: cells}))
    print(f"wrote {out} ({len(cats)} categories x {len(faces)} faces from {source}, split {args.split})")
    return 0

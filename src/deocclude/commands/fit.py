"""``deocclude fit``: the teacher — fit x* to the UTKFace faces and cache them."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  deocclude fit                                  all splits at N=128 into $DEOCCLUDE_CACHE/teacher_x_128.npz
  deocclude fit --splits val --limit 64 -o /tmp/val.npz   a quick look
  deocclude fit --max-minutes 20                 stop after 20 minutes; run again to resume
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fit",
        help="fit face-model coefficients x* to the training faces (R's pseudo-labels)",
        description="Fits pose + shape to each face's 468 landmarks and albedo + SH light to its visible "
        "face pixels, in the aligned N x N crop, batched; caches names -> x (resumable).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--splits", nargs="+", default=["train", "val", "test"], choices=["train", "val", "test"])
    p.add_argument("--size", type=int, default=128, help="aligned crop size N")
    p.add_argument("-o", "--output", default=None, help="output .npz (default $DEOCCLUDE_CACHE/teacher_x_<N>.npz)")
    p.add_argument("--model", default=None, help="face model .safetensors (default: bundled)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--limit", type=int, default=None, help="at most this many faces per split")
    p.add_argument("--steps", type=int, default=None, help="Adam steps of the landmark fit")
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 is fastest on a busy machine: these are many small ops)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    import numpy as np
    import torch

    from deocclude.errors import DeoccludeError
    from deocclude.paths import utkface_root
    from deocclude.reconstruct.cache import load_teacher, save_teacher, teacher_cache_path
    from deocclude.reconstruct.face_model import FaceModel
    from deocclude.reconstruct.fit import FitConfig, fit_teacher
    from deocclude.reconstruct.utkface import aligned_batch, load_index

    if args.size < 32 or args.batch < 1:
        raise DeoccludeError("--size must be >= 32 and --batch >= 1")
    torch.set_num_threads(args.threads)
    model = FaceModel.load(args.model)
    config = FitConfig() if args.steps is None else dataclasses.replace(FitConfig(), steps=args.steps)
    index = load_index(utkface_root())
    out = teacher_cache_path(args.size) if args.output is None else __import__("pathlib").Path(args.output)
    done: dict[str, np.ndarray] = {}
    if out.is_file():
        done = load_teacher(out)
        print(f"resuming: {len(done['names'])} faces already in {out}")
    have = set(done.get("names", np.array([], dtype=str)).tolist())
    todo = []
    for split in args.splits:
        ids = index.select(split)
        if args.limit is not None:
            ids = ids[: args.limit]
        todo += [int(i) for i in ids if index.names[i] not in have]
    cols = {k: list(done[k]) for k in ("names", "split", "x", "landmark_error", "photometric_error")} if done else \
        {k: [] for k in ("names", "split", "x", "landmark_error", "photometric_error")}
    gen = torch.Generator().manual_seed(0)
    start = time.time()

    def flush() -> None:
        save_teacher(out, {
            "names": np.asarray(cols["names"], dtype=str), "split": np.asarray(cols["split"], dtype=str),
            "x": np.asarray(cols["x"], dtype=np.float32).reshape(-1, model.layout.size),
            "landmark_error": np.asarray(cols["landmark_error"], dtype=np.float32),
            "photometric_error": np.asarray(cols["photometric_error"], dtype=np.float32),
            "size": np.asarray(args.size), "fields": np.asarray(model.layout.field_names()),
        })

    n_done = 0
    for s in range(0, len(todo), args.batch):
        if args.max_minutes is not None and time.time() - start > args.max_minutes * 60:
            print("time budget reached; run again to resume")
            break
        ids = np.asarray(todo[s:s + args.batch])
        images, landmarks, masks = aligned_batch(index, ids, args.size)
        result = fit_teacher(model, images, landmarks, masks, config, gen)
        cols["names"] += index.names[ids].tolist()
        cols["split"] += index.split[ids].tolist()
        cols["x"] += list(result.x.numpy())
        cols["landmark_error"] += result.landmark_error.tolist()
        cols["photometric_error"] += result.photometric_error.tolist()
        n_done += len(ids)
        if (s // args.batch) % 10 == 9 or s + args.batch >= len(todo):
            flush()
        rate = (time.time() - start) / n_done
        print(f"{n_done}/{len(todo)} faces, {rate * 1000:.0f} ms/face, "
              f"landmark error {result.landmark_error.mean():.2f} px, "
              f"photometric L1 {result.photometric_error.mean():.4f}", flush=True)
    if n_done:
        flush()
    print(f"wrote {out} ({len(cols['names'])} faces, {(time.time() - start) / 60:.1f} min this run)")
    return 0

"""``deocclude build-face-model``: build our 3D face model from the UTKFace train split."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  deocclude build-face-model                      build into the package's weights/ folder
  deocclude build-face-model -o /tmp/fm.safetensors --albedo-faces 500   a quick smaller build
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build-face-model",
        help="build the linear 3D face model (shape + albedo PCA) from the training faces",
        description="Builds mean shape + shape PCA from the train split's landmarks and a UV albedo "
        "PCA from its clean photos (de-lit, mirror-filled); writes one safetensors file. "
        "Reads $DEOCCLUDE_DATA/faces/utkface. The result is derived from UTKFace: non-commercial research only.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-o", "--output", default=None, help="output .safetensors (default: the bundled weights/face_model.safetensors)"
    )
    p.add_argument("--shape-components", type=int, default=144)
    p.add_argument("--albedo-components", type=int, default=80)
    p.add_argument("--texture-size", type=int, default=128)
    p.add_argument("--albedo-faces", type=int, default=3000, help="clean train faces unwrapped for the albedo PCA")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 is fastest on a busy machine: these are many small ops)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import subprocess

    import torch

    from deocclude.errors import DeoccludeError
    from deocclude.paths import REPO_DIR, utkface_root
    from deocclude.reconstruct.build import BuildConfig, build_face_model
    from deocclude.reconstruct.face_model import DEFAULT_PATH
    from deocclude.reconstruct.utkface import load_index

    torch.set_num_threads(args.threads)
    config = BuildConfig(n_shape=args.shape_components, n_albedo=args.albedo_components,
                         texture_size=args.texture_size, max_albedo_faces=args.albedo_faces)
    if config.n_albedo > config.max_albedo_faces:
        raise DeoccludeError("--albedo-faces must be at least --albedo-components")
    index = load_index(utkface_root())
    model, report = build_face_model(index, config)
    try:
        commit = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    model.metadata["commit"] = commit or "unknown"
    model.metadata["command"] = "deocclude build-face-model " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items()) if k not in {"func", "command", "output"})
    out = args.output or str(DEFAULT_PATH)
    model.save(out)
    print(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0

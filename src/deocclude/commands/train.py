"""``deocclude train <recipe>``: the shared training loop with one recipe per module."""

from __future__ import annotations

import argparse
import json
import os

EXAMPLES = """\
examples:
  deocclude train segment --max-minutes 60                  train S for an hour on this machine
  deocclude train segment --out runs/s1 --resume            continue a run where its checkpoint left off
  deocclude train segment --resume --max-minutes 90         ... with a larger total budget
  torchrun --nproc-per-node 4 -m deocclude train segment    the same recipe on 4 GPUs (DDP + AMP)
  deocclude train bundle runs/s1                            the run as the fp16 file the package ships

Every config field is a flag (nested ones dotted: --model.stem-width 64, --loss.ohem-fraction 0.3).
On --resume the run's saved config.json is the base and only the flags you give change it.
"""


BUNDLE_DESCRIPTION = (
    "Read the run's final/weights.safetensors, config.json and log.jsonl; write the fp16 file (default: the "
    "recipe's file in src/deocclude/weights/) with the one provenance schema (deocclude.model_file.Provenance)."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    from deocclude.train.bundle import add_arguments as add_bundle_arguments
    from deocclude.train.config import add_config_flags
    from deocclude.train.recipes import RECIPES

    p = subparsers.add_parser(
        "train",
        help="train a model (segment = S, reconstruct = R, inpaint = G; docs/training.md)",
        description="Train one of deocclude's networks with the shared loop: time budget, checkpoints, --resume, "
        "JSONL log, PNG grids, DDP under torchrun, AMP on CUDA.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="recipe", metavar="<recipe>", required=True)
    for name, recipe in RECIPES.items():
        rp = sub.add_parser(
            name,
            help=recipe.help,
            description=recipe.description or recipe.help,
            epilog=EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_config_flags(rp, recipe.config_class())
        rp.set_defaults(func=run, recipe_name=name)
    bp = sub.add_parser(
        "bundle",
        help="write a finished run (any recipe) as the fp16 weights file the package ships, with its provenance",
        description=BUNDLE_DESCRIPTION,
    )
    bp.set_defaults(func=bundle)
    add_bundle_arguments(bp)


def build_config(recipe_name: str, args: argparse.Namespace):  # noqa: ANN201 - the recipe's config type
    """Defaults (or the run's saved config on --resume) overridden by the flags given."""
    from pathlib import Path

    from deocclude.train.config import apply_overrides, load_config, overrides_from_args
    from deocclude.train.recipes import RECIPES

    cls = RECIPES[recipe_name].config_class()
    overrides = overrides_from_args(args, cls)
    base = cls()
    out = Path(overrides.get("out", base.out))
    if overrides.get("resume") and (out / "config.json").is_file():
        base = load_config(cls, out / "config.json")
    return apply_overrides(base, overrides)


def bundle(args: argparse.Namespace) -> int:
    from deocclude.train.bundle import run_command

    return run_command(args)


def run(args: argparse.Namespace) -> int:
    from deocclude.train.loop import train
    from deocclude.train.recipes import RECIPES

    config = build_config(args.recipe_name, args)
    task = RECIPES[args.recipe_name].make_task(config)
    summary = train(task, config)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary
        print(json.dumps(summary, indent=2))
    return 0

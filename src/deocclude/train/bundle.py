"""The one bundler: a finished training run → the fp16 weights file the package ships.

    deocclude train bundle runs/segment-r1 [-o FILE] [--trained-with COMMIT]
    python -m deocclude.train.bundle runs/segment-r1

Works for every recipe (S, R, G) from what the run itself holds: the ``format`` of its
export (``final/weights.safetensors``, written by the task) names the recipe and so the
:class:`~deocclude.model_file.NetworkFile`; ``config.json`` gives the task's ``data`` and
``inputs`` (:meth:`~deocclude.train.task.Task.provenance`); the last ``end`` record of
``log.jsonl`` gives steps, epochs, images, minutes and the final validation metrics. The
tensors are the export's, cast to fp16; the load entries (format, config, size, G's
``uses_prior``) are the export's too, so the bundled file loads exactly like the run's.
Torch (through :mod:`deocclude.model_file`) is imported only when bundling, so ``deocclude
train --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deocclude.config_codec import config_to_json
from deocclude.errors import DeoccludeError
from deocclude.paths import checkout_commit
from deocclude.train.config import load_config
from deocclude.train.recipes import RECIPES, Recipe

if TYPE_CHECKING:
    from deocclude.model_file import Provenance

LOOP_KEYS = ("event", "step", "epochs", "images", "minutes", "weights")  # the end record's non-metric entries


def recipe_for(exported_format: str | None) -> Recipe:
    """The recipe whose network file has this format (the export's own ``format`` entry)."""
    for recipe in RECIPES.values():
        if recipe.network().format == exported_format:
            return recipe
    raise DeoccludeError(
        f"no recipe exports format {exported_format!r}; known: {sorted(r.network().format for r in RECIPES.values())}"
    )


def read_log(log: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The run's ``start`` records (one per launch and --resume) and its last ``end`` record."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    ends = [r for r in records if r.get("event") == "end"]
    if not ends:
        raise DeoccludeError(f"{log}: no 'end' record: the run has not finished")
    return [r for r in records if r.get("event") == "start"], ends[-1]


def launch_commits(starts: list[dict[str, Any]]) -> str:
    """The commits the run's launches logged, in order ("a, b" when a --resume ran newer code)."""
    commits = list(dict.fromkeys(r["commit"] for r in starts if r.get("commit")))
    return ", ".join(commits) or "unknown"


def run_provenance(run: Path, recipe: Recipe, commit: str = "") -> Provenance:
    """The provenance of a finished run: the loop's numbers plus the task's data and inputs.

    ``commit``: the code the run was trained with, for runs older than the ``commit`` entry of
    the loop's start records (default: what those records say)."""
    from deocclude.model_file import Provenance

    config = load_config(recipe.config_class(), run / "config.json")
    starts, end = read_log(run / "log.jsonl")
    return Provenance(run=run.name, steps=end.get("step"), epochs=end.get("epochs"), images=end.get("images"),
                      minutes=end.get("minutes"), val={k: v for k, v in end.items() if k not in LOOP_KEYS},
                      trained_with_commit=commit or launch_commits(starts), bundled_at_commit=checkout_commit(),
                      **recipe.task_class().provenance(config))


def bundle(run: Path, out: Path | None = None, commit: str = "") -> tuple[Path, Provenance]:
    """Write the bundled file of ``run`` (default: the recipe's file in src/deocclude/weights/)."""
    from deocclude.model_file import MAX_BUNDLED_BYTES, PROVENANCE_KEY, read_tensors, write_tensors

    exported = run / "final" / "weights.safetensors"
    if not exported.is_file():
        raise DeoccludeError(f"{exported} not found: the run has not finished (or exported) yet")
    meta, tensors = read_tensors(exported, "exported")
    recipe = recipe_for(meta.get("format"))
    network = recipe.network()
    provenance = run_provenance(run, recipe, commit)
    path = write_tensors(
        tensors, out or network.default_path, {**meta, PROVENANCE_KEY: config_to_json(provenance)}, half=True
    )
    network.load(path)  # the file must rebuild its network strictly, or it is not shipped
    if path.stat().st_size >= MAX_BUNDLED_BYTES:
        raise DeoccludeError(
            f"{path}: {path.stat().st_size} bytes, over the {MAX_BUNDLED_BYTES} byte budget for bundled weights"
        )
    return path, provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="a finished `deocclude train <recipe>` run folder")
    parser.add_argument(
        "-o", "--out", type=Path, default=None, help="default: the recipe's file in src/deocclude/weights/"
    )
    parser.add_argument("--trained-with", default="", help="commit of the code the run was trained with "
                        "(default: the commits its log's start records name; runs before 2026-12-02 have none)")


def run_command(args: argparse.Namespace) -> int:
    path, provenance = bundle(args.run, args.out, args.trained_with)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {config_to_json(provenance)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

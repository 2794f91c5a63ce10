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
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deocclude.config_codec import config_to_json
from deocclude.errors import DeoccludeError
from deocclude.train.config import load_config
from deocclude.train.recipes import RECIPES, Recipe

if TYPE_CHECKING:
    from deocclude.model_file import Provenance

LOOP_KEYS = ("event", "step", "epochs", "images", "minutes", "weights")  # the end record's non-metric entries


def head_commit() -> str:
    """Short hash of the checkout's HEAD ("unknown" outside git)."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def recipe_for(exported_format: str | None) -> Recipe:
    """The recipe whose network file has this format (the export's own ``format`` entry)."""
    for recipe in RECIPES.values():
        if recipe.network().format == exported_format:
            return recipe
    raise DeoccludeError(f"no recipe exports format {exported_format!r}; known: {sorted(r.network().format for r in RECIPES.values())}")


def last_end_record(log: Path) -> dict[str, Any]:
    ends = [record for record in map(json.loads, log.read_text().splitlines()) if record.get("event") == "end"]
    if not ends:
        raise DeoccludeError(f"{log}: no 'end' record: the run has not finished")
    return ends[-1]


def run_provenance(run: Path, recipe: Recipe, trained_with: str = "") -> Provenance:
    """The provenance of a finished run: the loop's numbers plus the task's data and inputs."""
    from deocclude.model_file import Provenance

    config = load_config(recipe.config_class(), run / "config.json")
    end = last_end_record(run / "log.jsonl")
    return Provenance(run=run.name, steps=end.get("step"), epochs=end.get("epochs"), images=end.get("images"),
                      minutes=end.get("minutes"), val={k: v for k, v in end.items() if k not in LOOP_KEYS},
                      trained_with_commit=trained_with or "unknown", bundled_at_commit=head_commit(),
                      **recipe.task_class().provenance(config))


def bundle(run: Path, out: Path | None = None, trained_with: str = "") -> tuple[Path, Provenance]:
    """Write the bundled file of ``run`` (default: the recipe's file in src/deocclude/weights/)."""
    from deocclude.model_file import MAX_BUNDLED_BYTES, PROVENANCE_KEY, read_tensors, write_tensors

    exported = run / "final" / "weights.safetensors"
    if not exported.is_file():
        raise DeoccludeError(f"{exported} not found: the run has not finished (or exported) yet")
    meta, tensors = read_tensors(exported, "exported")
    recipe = recipe_for(meta.get("format"))
    network = recipe.network()
    provenance = run_provenance(run, recipe, trained_with)
    path = write_tensors(tensors, out or network.default_path, {**meta, PROVENANCE_KEY: config_to_json(provenance)}, half=True)
    network.load(path)  # the file must rebuild its network strictly, or it is not shipped
    if path.stat().st_size >= MAX_BUNDLED_BYTES:
        raise DeoccludeError(f"{path}: {path.stat().st_size} bytes, over the {MAX_BUNDLED_BYTES} byte budget for bundled weights")
    return path, provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="a finished `deocclude train <recipe>` run folder")
    parser.add_argument("-o", "--out", type=Path, default=None, help="default: the recipe's file in src/deocclude/weights/")
    parser.add_argument("--trained-with", default="", help="commit of the code the run was trained with")


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

"""``deocclude run --engine ray``: the same run on a pool of Ray Data actors, one :class:`Deoccluder` each.

Why it is built the way it is:

* **Same bytes as the local engine.** S and R give results that depend (by float rounding) on which faces
  share a network call, so the engine keeps the local engine's batching: every actor call gets
  ``--batch-size`` consecutive photos (the dataset is built from blocks of exactly that many rows) and runs
  them through run.py's own :class:`~deocclude.commands.run._PhotoBatch` (or ``_AlignedBatch``), the very
  code that reads, de-occludes and writes each photo locally, flushing on the same rule. Where each photo has
  one face (and always for ``--aligned`` crops) the face batches are the local ones, so every output file and
  manifest record (timings aside) is the same; a batch the local engine would have carried across two calls
  (photos with no face or several faces) splits differently here, and only its faces may differ in rounding.
* **Idempotent, resumable.** Actors write every file under a temporary name and rename it (run.py's
  writers); the driver alone appends a photo's ``manifest.jsonl`` record, after its actor returned, so a
  record always means "all its files are in place". A killed job resumed with ``--skip-existing`` keeps the
  photos that have a record and redoes the rest (rewriting any file an unrecorded photo left behind).
* **Paths.** Actors ``chdir`` to the driver's folder, so relative inputs and ``-o`` mean what they mean
  locally (and the manifest holds the same strings); on a multi-node cluster inputs and OUTDIR must be on
  a filesystem every node mounts at the same path (docs/scale.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deocclude.errors import DeoccludeError

INSTALL_HINT = "pip install 'deocclude[ray]'"
LIST_SUFFIXES = (".txt", ".lst")
"""An INPUT with one of these suffixes is a text manifest of paths (one per line), not a photo."""


def expand_path_lists(arguments: Sequence[str]) -> list[str]:
    """INPUTs with text manifests replaced by their lines, so the local engine's expansion then handles every
    line as it would on the command line (file, folder or glob). Why a file, not argv: a million paths do not
    fit on a command line. Blank lines and ``#`` comments are skipped; relative lines are relative to the
    current folder, as they are when typed (``find photos -name '*.jpg' > list.txt``)."""
    expanded: list[str] = []
    for argument in arguments:
        path = Path(argument).expanduser()
        if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
            expanded += [line for line in lines if line and not line.startswith("#")]
        else:
            expanded.append(argument)
    return expanded


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the ray[data] extra, not only ray core
    except ImportError:
        raise DeoccludeError(f"--engine ray needs Ray Data, which is not installed: {INSTALL_HINT}") from None
    return ray


class PhotoActor:
    """One Ray actor: a :class:`Deoccluder` loaded once, fed ``--batch-size`` photos per call.

    Each call goes through run.py's per-photo batch class, so reading, the flush rule, every output
    file and every manifest entry are made by exactly the code of the local engine."""

    def __init__(self, args: dict[str, Any], cwd: str) -> None:
        from rich.console import Console

        from deocclude.commands.run import config_from_args
        from deocclude.pipeline import Deoccluder

        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative inputs / OUTDIR as on the driver (the actor's process is its own)
        self.args = argparse.Namespace(**args)
        self.deoccluder = Deoccluder(config_from_args(self.args))
        self.console = Console(stderr=True, soft_wrap=True)  # its lines reach the driver through Ray's log

    def __call__(self, batch: Any) -> Any:  # noqa: ANN401 - a pandas DataFrame: index, path, name
        import pandas as pd

        from deocclude.commands.run import _AlignedBatch, _PhotoBatch, process

        pending = (_AlignedBatch if self.args.aligned else _PhotoBatch)(
            self.deoccluder, Path(self.args.output), self.args, self.console)
        entries: list[dict] = []
        # no read-ahead thread (--overlap is the local engine's): Ray already runs one actor per CPU
        process(pending, [(Path(path), str(name), None) for path, name in zip(batch["path"], batch["name"])],
                entries.extend)
        return pd.DataFrame({"index": list(batch["index"]),
                             "entry": [json.dumps(entry, default=str) for entry in entries],
                             "device": self.deoccluder.device, "fp16": self.deoccluder.uses_half})


def _error_message(exc: BaseException) -> str:
    """One line for a failed Ray job: the user's own error (e.g. ``--device cuda`` on a CPU node) when the
    actor raised a :class:`DeoccludeError`, else the exception's last line (Ray's own are many lines)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DeoccludeError):
            return str(seen)
        seen = getattr(seen, "cause", None) or seen.__cause__
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    for name in ("ImageReadError", "NoFaceError", "WeightsNotFoundError", "DeoccludeError"):
        marker = f"deocclude.errors.{name}: "  # an actor's own error, as Ray reprints it (ActorDiedError)
        if marker in last:
            return last.split(marker, 1)[1]
    return f"Ray job failed: {type(exc).__name__}: {last}"


def _actor_count(ray: Any, args: argparse.Namespace) -> int:  # noqa: ANN401 - the ray module
    """``--actors``, else as many as the cluster has room for: one per CPU, or per ``--num-gpus-per-actor``."""
    if args.actors is not None:
        if args.actors < 1:
            raise DeoccludeError(f"--actors must be >= 1, got {args.actors}")
        return int(args.actors)
    resources = ray.cluster_resources()
    if args.num_gpus_per_actor:
        count = int(resources.get("GPU", 0) // args.num_gpus_per_actor)
        if count < 1:
            raise DeoccludeError(f"--num-gpus-per-actor {args.num_gpus_per_actor}: the Ray cluster has "
                                 f"{resources.get('GPU', 0):g} GPU(s)")
        return count
    return max(1, int(resources.get("CPU", 1)))


def run_ray(args: argparse.Namespace) -> int:
    """``deocclude run --engine ray``: what :func:`deocclude.commands.run.run` does, on Ray actors."""
    ray = _import_ray()
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from deocclude.commands.run import _atomic_text, _ManifestLog, _unique_output_names, config_from_args
    from deocclude.inputs import prepare_batch

    console = Console(stderr=True, soft_wrap=True)
    out_dir: Path = args.output
    found = prepare_batch(expand_path_lists(args.inputs), out_dir, args.recursive,
                          report=lambda problem: console.print(f"[red]error:[/red] {problem}", highlight=False))
    config_from_args(args)  # bad flag values fail here, in one line, before any actor starts
    if args.num_gpus_per_actor is not None and args.num_gpus_per_actor < 0:
        raise DeoccludeError(f"--num-gpus-per-actor must be >= 0, got {args.num_gpus_per_actor}")
    if str(args.device).startswith("cuda") and not args.num_gpus_per_actor:
        raise DeoccludeError(f"--device {args.device} with --engine ray needs --num-gpus-per-actor (Ray shows an "
                             "actor no GPU unless it asks for one)")
    for stale in [*out_dir.glob(".*.part*"), *out_dir.glob("*/.*.part*")]:  # a killed run's temp files
        if stale.is_file():
            stale.unlink(missing_ok=True)
    manifest_log = _ManifestLog(out_dir / "manifest.jsonl", resume=args.skip_existing)
    entries: dict[int, dict] = {}
    skipped: list[str] = []
    todo: list[tuple[int, str, str]] = []
    for index, (path, name) in enumerate(zip(found.files, _unique_output_names(found.files))):
        done = manifest_log.complete(path)
        if args.skip_existing and done is not None:
            entries[index] = dict(done)
            skipped.append(str(path))
        else:
            todo.append((index, str(path), name))

    actor_args = {k: v for k, v in vars(args).items() if k != "func"}
    device, fp16 = args.device, False
    if todo:
        device, fp16 = _run_on_ray(ray, pd, args, actor_args, todo, entries, manifest_log, console,
                                   Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                            TimeRemainingColumn(), console=console, transient=True,
                                            disable=not console.is_terminal))
    files = [entries[i] for i in sorted(entries)]
    failures = len(found.problems) + sum(e["status"] != "ok" for e in files)
    manifest: dict = {"config": actor_args | {"output": str(out_dir), "resolved_device": device, "fp16": fp16},
                      "files": files, "skipped": skipped, "changed": sum(bool(e.get("changed")) for e in files)}
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_text(out_dir / "manifest.json", json.dumps(manifest, indent=2, default=str))
    done_count = sum(e["status"] == "ok" for e in files) - len(skipped)
    faces = sum(len(e.get("faces", [])) for e in files)
    console.print(f"{done_count} photo(s) processed ({faces} face(s)), {len(skipped)} skipped, {failures} failed "
                  f"→ {out_dir}")
    return 1 if failures else 0


def _run_on_ray(ray: Any, pd: Any, args: argparse.Namespace, actor_args: dict[str, Any],  # noqa: ANN401
                todo: list[tuple[int, str, str]], entries: dict[int, dict], manifest_log: Any,  # noqa: ANN401
                console: Any, progress: Any) -> tuple[str, bool]:  # noqa: ANN401
    """Run ``todo`` on the actor pool; append each photo's record as its batch comes back. Returns the
    actors' resolved device and whether they ran fp16, for manifest.json."""
    import logging

    started_here = not ray.is_initialized()
    if started_here:  # else: the caller's own ray.init (tests, notebooks) is used as it is
        ray.init(address=args.address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=True)
    device, fp16 = args.device, False
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours counts photos; Ray's counts blocks and rows
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-run INFO lines are not the user's
        batch = max(1, args.batch_size)
        # blocks of exactly --batch-size rows: each actor call is one block, the local engine's batch
        blocks = [pd.DataFrame(todo[start:start + batch], columns=["index", "path", "name"])
                  for start in range(0, len(todo), batch)]
        dataset = ray.data.from_pandas(blocks).map_batches(
            PhotoActor, fn_constructor_kwargs={"args": actor_args, "cwd": os.getcwd()},
            batch_size=batch, batch_format="pandas",  # compute= : Ray >= 2.51's spelling of concurrency=N
            compute=ray.data.ActorPoolStrategy(size=min(_actor_count(ray, args), len(blocks))),
            num_cpus=1, num_gpus=args.num_gpus_per_actor or None)
        with progress:
            task = progress.add_task(f"de-occluding on Ray ({math.ceil(len(todo) / batch)} batches)", total=len(todo))
            for result in dataset.iter_batches(batch_size=None, batch_format="pandas"):
                device, fp16 = result["device"].iloc[0], result["fp16"].iloc[0]
                for index, entry_json in zip(result["index"], result["entry"]):
                    entry = json.loads(entry_json)
                    manifest_log.append(entry)  # its files are in place: the actor renamed them before returning
                    entries[int(index)] = entry
                    progress.advance(task)
    except (KeyboardInterrupt, DeoccludeError):
        raise
    except Exception as exc:  # Ray's errors are pages of traceback: the user gets one line
        raise DeoccludeError(_error_message(exc)) from None
    finally:
        if started_here:
            ray.shutdown()
    return str(device), bool(fp16)

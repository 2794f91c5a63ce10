"""``deocclude run``: de-occlude every face in photos, folders or globs."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import time
import typing
from collections.abc import Callable
from pathlib import Path

from deocclude.fills import fill_choices
from deocclude.imageio import WRITE_FORMATS
from deocclude.pipeline import DeoccluderConfig

DESCRIPTION = """\
Find every face in each photo, estimate what covers it (S: visible face, M_R: face
surface), fill the covered part and paste the result back into the full-resolution photo.
Only occluded face pixels change; the rest of the photo is untouched.

Writes, per input photo, into OUTDIR:
  NAME<suffix>.EXT        the de-occluded photo, in the input's format and extension (JPEG at
                          quality 95 with EXIF and ICC kept, PNG, WebP, TIFF; GIF / AVIF / BMP -> PNG;
                          --format to choose); alpha, greyscale and 16 bits kept outside the changed pixels
  NAME_occlusion.png      where it changed: the occlusion mask M_O in photo pixels (255 = occluded)
  NAME_faces.png          one row per face: aligned crop, landmarks, occlusion mask, result
  NAME/                   with --save-intermediates: every crop and mask as its own PNG
and manifest.jsonl, one complete record appended per photo once all its files are in place
(every file is written under a temporary name and renamed), summarised at the end into
manifest.json (per file: "changed" whether any pixel was replaced: faces found, occluded fraction, status, \
timings; "aligned": true
for --aligned inputs, whose faces have no detection box).

With --aligned each input is one face already cropped in the canonical frame (what
--save-intermediates writes as NAME/face0_crop.png): nothing is detected or pasted, and
NAME<suffix>.png is the restored crop at the input's size (pixels outside M_O unchanged).

A photo with no face is still copied to OUTDIR unchanged (--no-copy-unprocessed to leave it
out), so the output folder mirrors the input; "changed": false says so. A killed run is
resumed with --skip-existing: photos with a complete record are kept, the rest redone.

Faces go through S and R --batch-size at a time, across photos; on CUDA in fp16 unless --no-half.
Masks are PNGs with 255 = occluded (M_O) or 255 = face (M_F, M_R)."""

EPILOG = """\
examples:
  deocclude run examples/astronaut.jpg -o out/
  deocclude run photos/ -o cleaned/ --only-largest-face
  deocclude run 'shoot/*.jpg' -o out/ --size 256 --save-intermediates
  deocclude run crops/ -o restored/ --aligned --batch-size 32 --device cuda

exit status: 0 all photos processed, 1 some photos failed or had no face, 2 bad arguments."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="de-occlude faces in photos (files, folders, globs)", description=DESCRIPTION,
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or glob patterns")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR", help="folder for results (created)")
    _add_config_flags(p)
    p.add_argument(
        "--aligned",
        action="store_true",
        help="inputs are already canonical square face crops (e.g. NAME/face0_crop.png of --save-intermediates): "
        "no detection, one face per file, output at the crop's size",
    )
    p.add_argument("--suffix", default="", help="appended to output photo names, e.g. _clean")
    p.add_argument("--skip-existing", action="store_true",
                   help="resume: skip photos that have a complete record in OUTDIR/manifest.jsonl and whose output "
                        "exists (a half-written photo of a killed run has no record, so it is redone)")
    p.add_argument("--format", choices=("keep", *WRITE_FORMATS), default="keep",
                   help="output photo format (default keep: the input's own format and extension)")
    p.add_argument("--copy-unprocessed", action=argparse.BooleanOptionalAction, default=True,
                   help="copy photos with no face into OUTDIR unchanged, so a batch output folder has every input "
                        "(default on; the manifest's \"changed\" tells them apart)")
    p.add_argument("--save-intermediates", action="store_true", help="also write every crop and mask per face")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of input folders")
    p.add_argument("--overlap", action=argparse.BooleanOptionalAction, default=True,
                   help="local engine: a helper thread reads the next photos and finds their faces while S / R work "
                        "on the current ones (same outputs; default on, measured in benchmarks/results/overlap.md)")
    ray = p.add_argument_group("scale out (docs/scale.md)")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this process; ray: a pool of Ray Data actors, same outputs (pip install "
                          "'deocclude[ray]'); with ray an INPUT ending in .txt / .lst is a list of paths, one a line")
    ray.add_argument("--address", help="Ray cluster to join, e.g. auto (default: start a local one)")
    ray.add_argument("--actors", type=int, help="Ray actors, one Deoccluder each (default: one per CPU or GPU share)")
    ray.add_argument("--num-gpus-per-actor", type=float, help="GPUs per Ray actor, e.g. 1 or 0.5 (default 0: CPU)")
    p.set_defaults(func=run)


FLAG_HELP: dict[str, str] = {
    "min_face_score": "detection confidence threshold",
    "only_largest_face": "process only the largest face of each photo",
    "device": "torch device: auto (CUDA when present), cpu, cuda, cuda:1 ...",
    "fill": (
        "how to fill occluded pixels: auto = the best by our benchmarks (prior: R's 3D face render "
        "Poisson-blended in, Telea without R), telea / navier-stokes = OpenCV, g = the learned G"
    ),
    "batch_size": "faces per S / R network call, batched across photos",
    "outline_band": (
        "within this many crop pixels of the face outline, treat pixels as occluded only where they "
        "continue an occlusion deeper inside, so bare jaws and cheeks are not repainted (0 = the paper's M_O)"
    ),
    "half": "on CUDA, run S, R and G under fp16 autocast (CPU always runs fp32)",
    "extend": (
        "also remove the parts of an occluder that run past the face surface M_R (temples, straps, hands, "
        "scarves); off = replace only inside M_R, as the paper does"
    ),
}
"""Help for the fields whose :class:`DeoccluderConfig` docstring is missing or too long for a flag;
every other flag's help is the first sentence of its field's docstring."""
FLAG_CHOICES = {"fill": fill_choices}
"""Fields whose choices come from a registry rather than a ``Literal`` (a new fill is one file: deocclude/fills)."""
NOT_FLAGS = ("paste",)
"""Config fields with no flag: the paste-back feathering is tuned once (faces_roundtrip benchmark), not per run."""


def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string right after each field) of a dataclass, read from its source."""
    docs: dict[str, str] = {}
    body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per :class:`DeoccluderConfig` field: its default, type, choices and help all come from
    the config, so run's flags cannot drift from what the pipeline does (one place for defaults)."""
    defaults, hints, docs = DeoccluderConfig(), typing.get_type_hints(DeoccluderConfig), _field_docs(DeoccluderConfig)
    for f in dataclasses.fields(DeoccluderConfig):
        if f.name in NOT_FLAGS:
            continue
        default, tp = getattr(defaults, f.name), hints[f.name]
        text = FLAG_HELP.get(f.name) or docs[f.name].split(". ")[0].rstrip(".")
        flag = "--" + f.name.replace("_", "-")
        if tp is bool:
            if default:
                p.add_argument(f"--no-{flag[2:]}", dest=f.name, action="store_false", default=True,
                               help=f"turn off (default on): {text}")
            else:
                p.add_argument(flag, dest=f.name, action="store_true", help=text)
        elif typing.get_origin(tp) is typing.Literal or f.name in FLAG_CHOICES:
            choices = FLAG_CHOICES[f.name]() if f.name in FLAG_CHOICES else typing.get_args(tp)
            p.add_argument(flag, dest=f.name, choices=choices, default=default, help=f"{text} (default {default})")
        else:
            p.add_argument(flag, dest=f.name, type=tp, default=default, help=f"{text} (default {default})")


def config_from_args(args: argparse.Namespace) -> DeoccluderConfig:
    """The :class:`DeoccluderConfig` the flags describe (fields without a flag keep their defaults)."""
    return DeoccluderConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(DeoccluderConfig)
                               if f.name not in NOT_FLAGS})


def run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        from deocclude.scale.ray_engine import run_ray

        return run_ray(args)
    if args.address or args.actors is not None or args.num_gpus_per_actor is not None:
        from deocclude.errors import DeoccludeError

        raise DeoccludeError("--address, --actors and --num-gpus-per-actor need --engine ray")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from deocclude.inputs import prepare_batch
    from deocclude.pipeline import Deoccluder

    console = Console(stderr=True, soft_wrap=True)
    out_dir: Path = args.output
    found = prepare_batch(args.inputs, out_dir, args.recursive,
                          report=lambda problem: console.print(f"[red]error:[/red] {problem}", highlight=False))

    config = config_from_args(args)
    deoccluder = Deoccluder(config)
    if not deoccluder.can_remove_occlusions:
        console.print("[yellow]note:[/yellow] no segmentation weights installed: running the faces path only "
                      "(detect, align, paste back); photos come out unchanged.")
    for stale in [*out_dir.glob(".*.part*"), *out_dir.glob("*/.*.part*")]:  # a killed run's temp files (also of
        # --save-intermediates' NAME/ folders): never results, so removed
        if stale.is_file():
            stale.unlink(missing_ok=True)
    manifest_log = _ManifestLog(out_dir / "manifest.jsonl", resume=args.skip_existing)
    manifest: dict = {"config": {k: v for k, v in vars(args).items() if k != "func"}
                      | {"output": str(out_dir), "resolved_device": deoccluder.device, "fp16": deoccluder.uses_half},
                      "files": []}
    batch = _AlignedBatch if args.aligned else _PhotoBatch
    failures = len(found.problems)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("de-occluding", total=len(found.files))
        pending = batch(deoccluder, out_dir, args, progress.console)
        skipped: list[str] = []

        def written(entries: list[dict]) -> None:
            nonlocal failures
            for entry in entries:
                if entry.pop("_skipped", False):
                    skipped.append(entry["input"])
                else:
                    manifest_log.append(entry)
                manifest["files"].append(entry)
                failures += entry["status"] != "ok"
                progress.advance(task, 0.5)  # written (the other half: read and faces found)

        jobs = [(path, name, manifest_log.complete(path))
                for path, name in zip(found.files, _unique_output_names(found.files))]
        process(pending, jobs, written, read=lambda: progress.advance(task, 0.5), overlap=args.overlap)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest["skipped"] = skipped
    manifest["changed"] = sum(bool(e.get("changed")) for e in manifest["files"])
    _atomic_text(out_dir / "manifest.json", json.dumps(manifest, indent=2, default=str))
    done = sum(e["status"] == "ok" for e in manifest["files"]) - len(skipped)
    faces = sum(len(e.get("faces", [])) for e in manifest["files"])
    console.print(f"{done} photo(s) processed ({faces} face(s)), {len(skipped)} skipped, {failures} failed → {out_dir}")
    return 1 if failures else 0


def _atomic_text(path: Path, text: str) -> None:
    from deocclude.imageio import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


class _ManifestLog:
    """``manifest.jsonl``: one complete JSON record per photo, appended once all its files are renamed
    into place. Why JSON Lines: a killed run loses at most the line being written (a torn last
    line is ignored on reading), and ``--skip-existing`` trusts exactly the photos that have a line.
    """

    def __init__(self, path: Path, resume: bool) -> None:
        self.path, self.records = path, {}
        if resume and path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the torn last line of a killed run
                if isinstance(record, dict) and "input" in record:
                    self.records[record["input"]] = record
        path.parent.mkdir(parents=True, exist_ok=True)
        if not resume:  # a fresh run starts a fresh log (its files are rewritten too)
            path.write_text("")
        elif self.records and not path.read_text().endswith("\n"):
            with open(path, "a") as handle:
                handle.write("\n")  # close a torn line so the next record starts on its own

    def complete(self, path: Path) -> dict | None:
        """The earlier record of ``path`` when it is complete and its output is still there."""
        record = self.records.get(str(path))
        if record is None or record.get("status") not in ("ok", "no face"):
            return None
        if record.get("output") is not None and not Path(record["output"]).is_file():
            return None
        return record

    def append(self, entry: dict) -> None:
        import os

        with open(self.path, "a") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records[entry["input"]] = entry


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


def _describe(exc: Exception, path: Path) -> str:
    from deocclude.errors import DeoccludeError

    return str(exc) if isinstance(exc, DeoccludeError) else f"{path}: {type(exc).__name__}: {exc}"


Job = tuple[Path, str, dict | None]
"""One input of a run: its path, its output name, its complete record from an earlier run (or None)."""


def process(pending: _PhotoBatch, jobs: list[Job], written: Callable[[list[dict]], None],
            read: Callable[[], None] = lambda: None, overlap: bool = False) -> None:
    """Every job through ``pending`` (a :class:`_PhotoBatch` or :class:`_AlignedBatch`): read it and find
    its faces, de-occlude a chunk at a time (:meth:`_PhotoBatch.full`), write. ``read`` is called once a
    photo is read (from the helper thread with ``overlap``), ``written`` with each chunk's entries, in
    input order, once its files are in place.

    ``overlap``: a :class:`_ReadAhead` thread prepares the next chunk while this thread runs S, R, the
    fill, paste back and the writes of the current one. Same chunks, same calls, same bytes: only when
    the reading happens changes."""
    if not overlap:
        for path, name, done in jobs:
            pending.add(path, name, done)
            read()
            if pending.full():
                written(pending.finish())
        written(pending.finish())
        return
    with _ReadAhead(pending, jobs, read) as ahead:
        for chunk, pixels in ahead:
            pending.items = chunk
            try:
                entries = pending.finish()
            finally:
                ahead.release(pixels)
            written(entries)


LOOKAHEAD_PIXELS = 48_000_000
"""Decoded input pixels that may be in flight (read, not yet written) while the reader runs ahead: about
144 MB as RGB, three chunks of 16 one-megapixel photos. Past it the reader waits until everything it
handed on is written, as the serial path would: an 80 MP photo is never read beside another one, and
peak memory stays the serial path's (benchmarks/peak_memory.py, <= 1 GB) plus at most this."""


class _ReadAhead:
    """A helper thread that runs :meth:`_PhotoBatch.prepare` (decode, detect, 468-point mesh, align,
    the person gate; the no-face copies) on the next photos and hands over whole chunks, in input order.

    Why a thread, not a process: the decoders, TFLite, OpenCV and NumPy release the GIL, photos and faces
    pass without pickling, and the batched S / R / fill calls stay in the main thread. Two things run torch
    here: the rescue's second detector (faces/rfb.py), which sets torch's thread count around its call
    (OpenMP's count is per thread), and the refit of masked faces the mesh refuses (faces/refit.py: the
    68-point network, R and S on one crop per refused detection; eval-mode forwards, no shared state), so
    the outputs are the serial path's byte for byte (tests/test_run_overlap.py compares them, refitted RMFD
    faces included).
    Why bounded: chunks pass through a queue of one, and :data:`LOOKAHEAD_PIXELS` bounds the pixels
    held. Why joined: on Ctrl-C (or any error) the main thread sets :attr:`stop` and waits for the photo
    being read, so no thread is left writing while the run reports it was interrupted; every file is
    written under a temporary name and recorded in manifest.jsonl by the main thread only, as before.
    """

    _DONE = object()

    def __init__(self, pending: _PhotoBatch, jobs: list[Job], read: Callable[[], None],
                 budget: int = LOOKAHEAD_PIXELS) -> None:
        import queue
        import threading

        self.pending, self.jobs, self.read, self.budget = pending, jobs, read, budget
        self.handoff: queue.Queue = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self._held = 0  # pixels read and not yet released (written), the reader's own chunk included
        self._room = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="deocclude-read-ahead")

    def __enter__(self) -> _ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        with self._room:
            self._room.notify_all()
        self._thread.join()

    def __iter__(self) -> typing.Iterator[tuple[list[dict], int]]:
        """(chunk, its pixels) in input order; an exception of the thread (a bug) is raised here."""
        while True:
            got = self.handoff.get()
            if got is self._DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got

    def release(self, pixels: int) -> None:
        """A chunk's photos are written: their pixels no longer count."""
        with self._room:
            self._held -= pixels
            self._room.notify_all()

    def _reserve(self, pixels: int, own: int) -> bool:
        """Wait until ``pixels`` more fit in :attr:`budget`, or nothing is in flight past the reader's own
        chunk (``own`` pixels: the serial path holds that chunk too); False when stopped."""
        with self._room:
            while not self.stop.is_set() and self._held > own and self._held + pixels > self.budget:
                self._room.wait()
            self._held += pixels
            return not self.stop.is_set()

    def _put(self, value: object) -> bool:
        import queue

        while not self.stop.is_set():
            try:
                self.handoff.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        from deocclude.errors import DeoccludeError
        from deocclude.imageio import claimed_size

        chunk: list[dict] = []
        own = 0
        try:
            for path, name, done in self.jobs:
                pixels = 0
                if not (self.pending.args.skip_existing and done is not None):
                    try:
                        width, height = claimed_size(path) or (0, 0)
                        pixels = width * height
                    except DeoccludeError:
                        pass  # prepare() reports it as this photo's error
                if not self._reserve(pixels, own):
                    return
                own += pixels
                chunk.append(self.pending.prepare(path, name, done))
                self.read()
                if self.pending.full(chunk):
                    if not self._put((chunk, own)):
                        return
                    chunk, own = [], 0
            if chunk and not self._put((chunk, own)):
                return
            self._put(self._DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            self._put(exc)


class _PhotoBatch:
    """Photos whose faces are found one photo at a time and de-occluded ``--batch-size`` faces at a time.

    Entries come back in input order; a photo that fails (unreadable, no face, cannot be
    written) becomes an error entry and never stops the others.
    """

    aligned = False

    def __init__(self, deoccluder, out_dir: Path, args: argparse.Namespace, console) -> None:  # noqa: ANN001
        self.deoccluder, self.out_dir, self.args, self.console = deoccluder, out_dir, args, console
        self.items: list[dict] = []  # per file: entry, and while pending its photo, faces, timings

    def _entry(self, path: Path, name: str) -> dict:
        return {"input": str(path), "output": None, "aligned": self.aligned}

    def _output_path(self, item: dict) -> tuple[str, Path]:
        from deocclude.imageio import output_format

        fmt, ext = output_format(item["source"], self.args.format)
        path = self.out_dir / f"{item['name']}{self.args.suffix}{ext}"
        if path.resolve() == Path(item["entry"]["input"]).resolve():
            from deocclude.errors import DeoccludeError

            raise DeoccludeError(f"{path}: output would overwrite its input; choose another -o")
        return fmt, path

    def _write_photo(self, item: dict, processed, release_input: bool = False) -> None:  # noqa: ANN001 - RGB uint8
        """Write the output photo in the input's format (or --format), pixels the pipeline left alone as
        stored; record format, mode, whether anything changed and anything that had to be reduced.

        ``release_input``: the caller holds no other reference to the input's RGB pixels
        (``item["source"].rgb``), so they are dropped before encoding: on an 80 MP photo input,
        output and the encoder's copy together were 800 MB."""
        import shutil

        from deocclude.imageio import atomic_write_bytes, encode_output, merge_into_source

        source = item["source"]
        fmt, path = self._output_path(item)
        changed = not np_equal(processed, source.rgb)
        notes = [source.note] if source.note else []
        if not changed and fmt == source.format and self.args.format == "keep":
            tmp = path.with_name(f".{path.name}.part")
            shutil.copyfile(source.path, tmp)  # unchanged and same format: the input's bytes exactly
            tmp.replace(path)
        else:
            merged = merge_into_source(source, processed)
            if release_input:  # the input's pixels are not needed any more: freed before encoding,
                # which copies the photo once more (Pillow holds 4 bytes a pixel; issue 19)
                import numpy as np

                item["source"] = source = dataclasses.replace(source, rgb=np.zeros((0, 0, 3), np.uint8))
            del processed
            data, note = encode_output(merged, fmt, source)
            del merged
            notes += [note] if note else []
            atomic_write_bytes(path, data)
        item["entry"] |= {"output": str(path), "format": fmt, "mode": source.mode, "changed": changed,
                          "notes": notes}

    def _error(self, item: dict, exc: Exception) -> None:
        message = _describe(exc, Path(item["entry"]["input"]))
        self.console.print(f"[red]error:[/red] {message}", highlight=False)
        item["entry"] |= {"status": f"error: {message}", "output": None}

    def full(self, items: list[dict] | None = None) -> bool:
        """Whether ``items`` (default: the pending ones) make a chunk: ``--batch-size`` photos or faces."""
        pending = [item for item in (self.items if items is None else items) if "faces" in item]
        return len(pending) >= self.args.batch_size or sum(len(i["faces"]) for i in pending) >= self.args.batch_size

    def add(self, path: Path, name: str, done: dict | None = None) -> None:
        """:meth:`prepare` one input and keep it until :meth:`finish`."""
        self.items.append(self.prepare(path, name, done))

    def prepare(self, path: Path, name: str, done: dict | None = None) -> dict:
        """Read one input and find its faces: the item is skipped, failed, written already (no face), or
        pending for :meth:`finish`. ``done`` is its complete record from an earlier run, which
        ``--skip-existing`` keeps as it is.

        Touches nothing of the batch's own state and no network (S, R, G run in :meth:`finish`), so
        :class:`_ReadAhead` may run it on its thread while :meth:`finish` works on the previous chunk."""
        from deocclude.imageio import read_source

        item: dict[str, typing.Any] = {"entry": self._entry(path, name), "name": name, "started": time.perf_counter()}
        if self.args.skip_existing and done is not None:
            item["entry"] = dict(done) | {"_skipped": True}
            return item
        try:
            item["source"] = read_source(path)
            self._take(item, path, item["source"].rgb)
        except Exception as exc:  # a broken photo must not stop the batch
            self._error(item, exc)
        return item

    def _take(self, item: dict, path: Path, photo) -> None:  # noqa: ANN001 - RGB uint8 image
        timings: dict[str, float] = {}
        faces = self.deoccluder.find_faces(photo, timings)
        if not faces:
            copied = self.args.copy_unprocessed
            self.console.print(f"[yellow]no face:[/yellow] {path}: no face found "
                               f"({'copied unchanged' if copied else 'photo not written'})", highlight=False)
            item["entry"] |= {"status": "no face", "changed": False}
            if copied:
                self._write_photo(item, photo)
            item["entry"]["seconds"] = round(time.perf_counter() - item["started"], 4)
            return
        item |= {"photo": photo, "timings": timings, "faces": faces,
                 "seconds": time.perf_counter() - item["started"]}  # reading and finding the faces

    charged: tuple[str, ...] = ("segment", "reconstruct", "mask", "fill")
    """Face stages timed outside this file's own wall-clock steps (batched calls: its faces' share)."""

    def finish(self) -> list[dict]:
        """De-occlude every pending face in ``--batch-size`` batches, write the outputs, return the entries."""
        self._deocclude()
        entries = []
        for item in self.items:
            if "faces" in item:
                started = time.perf_counter()
                try:
                    self._write(item)
                except Exception as exc:  # e.g. an output path that is a folder: this file fails, not the run
                    self._error(item, exc)
                else:
                    share = sum(t for f in item["faces"] for k, t in f.timings.items() if k in self.charged)
                    item["entry"]["seconds"] = round(item["seconds"] + share + time.perf_counter() - started, 4)
            entries.append(item["entry"])
        self.items = []
        return entries

    def _deocclude(self) -> None:
        self.deoccluder.deocclude_faces([face for item in self.items for face in item.get("faces", [])])

    def _write(self, item: dict) -> None:
        from deocclude.imageio import write_image, write_mask
        from deocclude.report import face_grid, write_face_intermediates

        result = self.deoccluder.paste_faces(item.pop("photo"), item["faces"], item["timings"])
        name, out_dir = item["name"], self.out_dir
        self._write_photo(item, result.photo, release_input=True)  # item.pop: nothing else holds the input
        if any(face.occlusion_mask is not None for face in result.faces):
            write_mask(out_dir / f"{name}_occlusion.png", result.changed_mask())
        write_image(out_dir / f"{name}_faces.png", face_grid(result))
        if self.args.save_intermediates:
            write_face_intermediates(out_dir / name, result)
        _warn_failed_faces(result.faces, item["entry"]["input"], self.console)
        item["entry"] |= {"status": "ok", "timings": {k: round(v, 4) for k, v in result.timings.items()},
                          "faces": [_face_entry(f) for f in result.faces]}


class _AlignedBatch(_PhotoBatch):
    """``--aligned``: each file is one canonical square face crop; ``--batch-size`` crops per network call."""

    aligned = True

    def full(self, items: list[dict] | None = None) -> bool:
        return sum("crop" in item for item in (self.items if items is None else items)) >= self.args.batch_size

    def _take(self, item: dict, path: Path, crop) -> None:  # noqa: ANN001 - RGB uint8 image
        if crop.shape[0] != crop.shape[1]:
            from deocclude.errors import DeoccludeError

            raise DeoccludeError(f"{path}: {crop.shape[1]}x{crop.shape[0]} px is not a square face crop (--aligned "
                                 "expects the canonical crops that --save-intermediates writes; drop --aligned for "
                                 "ordinary photos)")
        item |= {"crop": crop, "seconds": time.perf_counter() - item["started"]}

    charged = ("align", "segment", "reconstruct", "mask", "fill")

    def _deocclude(self) -> None:
        pending = [item for item in self.items if "crop" in item]
        try:
            faces = self.deoccluder.run_aligned([item["crop"] for item in pending]) if pending else []
        except Exception as exc:
            for item in pending:
                self._error(item, exc)
            return
        for item, face in zip(pending, faces):
            item["faces"] = [face]

    def _write(self, item: dict) -> None:
        from deocclude.imageio import write_image, write_mask
        from deocclude.pipeline import Result
        from deocclude.report import face_grid, write_face_intermediates

        crop, face, name, out_dir = item["crop"], item["faces"][0], item["name"], self.out_dir
        restored, occlusion = _at_crop_size(crop, face)
        self._write_photo(item, restored)
        if face.occlusion_mask is not None:
            write_mask(out_dir / f"{name}_occlusion.png", occlusion)
        result = Result(photo=restored, faces=[face], timings=dict(face.timings))
        write_image(out_dir / f"{name}_faces.png", face_grid(result))
        if self.args.save_intermediates:
            write_face_intermediates(out_dir / name, result)
        _warn_failed_faces([face], item["entry"]["input"], self.console)
        item["entry"] |= {"status": "ok", "timings": {k: round(v, 4) for k, v in face.timings.items()},
                          "faces": [_face_entry(face)]}


def np_equal(a, b) -> bool:  # noqa: ANN001 - two arrays
    """Whether two arrays are equal, compared a block of rows at a time: ``np.array_equal`` on two
    80 MP photos allocated a 240 MB boolean array."""
    import numpy as np

    if a.shape != b.shape:
        return False
    if a.ndim == 0:
        return bool(np.array_equal(a, b))
    rows = max(1, (1 << 22) // max(1, a[:1].size))
    return all(np.array_equal(a[i:i + rows], b[i:i + rows]) for i in range(0, a.shape[0], rows))


def _at_crop_size(crop, face) -> tuple:  # noqa: ANN001 - (N, N, 3) uint8 crop, its FaceResult
    """The restored crop and M_O at the input crop's own size: outside M_O the input's pixels, exactly."""
    import cv2
    import numpy as np

    side = crop.shape[0]
    occlusion = (
        face.occlusion_mask if face.occlusion_mask is not None else np.zeros(face.restored.shape[:2], np.float32)
    )
    if face.restored.shape[0] == side:
        return face.restored, occlusion
    mask = cv2.resize(occlusion, (side, side), interpolation=cv2.INTER_LINEAR)
    filled = cv2.resize(face.restored, (side, side), interpolation=cv2.INTER_CUBIC if side > face.restored.shape[0]
                        else cv2.INTER_AREA)
    blend = mask[..., None]
    out = (crop.astype(np.float32) * (1.0 - blend) + filled.astype(np.float32) * blend + 0.5).astype(np.uint8)
    return out, mask


def _warn_failed_faces(faces: list, path: str, console) -> None:  # noqa: ANN001
    for face in faces:
        if face.status != "ok":
            console.print(f"[yellow]face {face.index} of {path} kept as is:[/yellow] {face.status}", highlight=False)


def _face_entry(face) -> dict:  # noqa: ANN001 - a FaceResult
    """One face in manifest.json; faces given as aligned crops have no detection (box and score are null)."""
    detection = face.detection
    return {
        "index": face.index,
        "box": None if detection is None else [round(float(v), 1) for v in detection.box],
        "score": None if detection is None else round(float(detection.score), 4),
        "occluded_fraction": round(face.occluded_fraction, 4),
        "method": face.method,
        "status": face.status,
        "landmarks": face.landmarks_from,
        "glasses": face.glasses,
    }

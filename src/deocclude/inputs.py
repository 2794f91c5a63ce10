"""Turning what a user types (files, folders, globs) into a list of image files.

Problems are collected, not raised, so that one bad argument never stops the others: the
caller reports each one and sets the exit status. Matching nothing at all is an error,
never a silent "0 files processed".
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deocclude.errors import DeoccludeError
from deocclude.imageio import IMAGE_SUFFIXES


@dataclass
class InputSet:
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def expand_inputs(arguments: Sequence[str], recursive: bool = False) -> InputSet:
    """Expand files, folders (their image files, sorted) and glob patterns, without duplicates."""
    result = InputSet()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.files.append(path)

    for argument in arguments:
        path = Path(argument).expanduser()
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and _is_image_name(p))
            if not found:
                deeper = not recursive and any(p.is_file() and _is_image_name(p) for p in path.glob("**/*"))
                hint = (
                    "; its sub-folders do: add -r"
                    if deeper
                    else ("" if recursive else " (add -r to look in sub-folders)")
                )
                result.problems.append(f"{path}: folder contains no image files ({', '.join(IMAGE_SUFFIXES)}){hint}")
            for p in found:
                add(p)
        elif path.exists():
            add(path)  # any file the user names is tried, whatever its suffix
        elif glob.has_magic(argument):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not found:
                result.problems.append(f"{argument}: pattern matches no file")
            for p in found:
                add(p)
        else:
            result.problems.append(f"{path}: no such file or folder")
    return result


def _print_error(message: str) -> None:
    print(f"deocclude: error: {message}", file=sys.stderr)


def prepare_batch(arguments: Sequence[str], out_dir: Path, recursive: bool = False,
                  report: Callable[[str], None] = _print_error) -> InputSet:
    """What every batch command does first: expand the inputs, report each problem, and make sure
    the output folder can be written and is not an input folder (so no input is ever overwritten).

    Raises :class:`DeoccludeError` when nothing matched or the output folder is unusable.
    """
    found = expand_inputs(arguments, recursive=recursive)
    for problem in found.problems:
        report(problem)
    if not found.files:
        raise DeoccludeError("no input image found (nothing to do)")
    check_output_folder(out_dir, found.files)
    return found


def check_output_folder(out_dir: Path, files: Sequence[Path]) -> None:
    """Create ``out_dir`` and check it is writable and holds none of the inputs."""
    resolved = Path(out_dir).resolve()
    if resolved.exists() and not resolved.is_dir():
        raise DeoccludeError(f"output {out_dir} exists and is not a folder")
    if any(f.resolve().parent == resolved for f in files):
        raise DeoccludeError(
            f"output folder {out_dir} is also an input folder; choose another -o so inputs are never overwritten"
        )
    try:
        resolved.mkdir(parents=True, exist_ok=True)
        probe = resolved / ".deocclude-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DeoccludeError(f"cannot write to output folder {out_dir}: {exc.strerror}") from None

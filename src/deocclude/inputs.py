"""Turning what a user types (files, folders, globs) into a list of image files.

Problems are collected, not raised, so that one bad argument never stops the others: the
caller reports each one and sets the exit status. Matching nothing at all is an error,
never a silent "0 files processed".
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
                result.problems.append(f"{path}: folder contains no image files ({', '.join(IMAGE_SUFFIXES)})")
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

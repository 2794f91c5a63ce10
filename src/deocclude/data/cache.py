"""A folder of aligned arrays written once and memory-mapped afterwards.

Aligning 9,000 faces and rasterising their meshes takes about a minute on 2 cores; every
training run and worker process would otherwise repeat it. A cache entry is a directory of
``.npy`` files (memory-mapped on load, so DataLoader workers share pages instead of
copying) plus ``meta.json``; it is written under a temporary name and renamed, so an
interrupted build never leaves a half-written entry behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from deocclude.errors import DeoccludeError

ArraySpec = dict[str, tuple[tuple[int, ...], DTypeLike]]


def load_or_build(entry: Path, specs: ArraySpec, count: int, rows: Callable[[], Iterator[dict[str, np.ndarray]]],
                  meta: dict, describe: str) -> dict[str, np.ndarray]:
    """Memory-map the arrays of ``entry``, building them first if needed.

    ``specs`` gives each array's per-item shape and dtype; ``rows()`` yields ``count``
    dicts with one item of every array. ``meta`` must match the stored one, else the entry
    is rebuilt (e.g. after a code change that bumps the version).
    """
    meta_path = entry / "meta.json"
    if meta_path.is_file():
        try:
            if json.loads(meta_path.read_text()) == meta:
                return {k: np.load(entry / f"{k}.npy", mmap_mode="r") for k in specs}
        except (OSError, ValueError):
            pass
        shutil.rmtree(entry, ignore_errors=True)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        raise DeoccludeError(f"cannot write the data cache at {entry.parent}: {exc} (set DEOCCLUDE_CACHE)") from exc
    arrays = {k: np.lib.format.open_memmap(tmp / f"{k}.npy", mode="w+", dtype=dt, shape=(count, *shape))
              for k, (shape, dt) in specs.items()}
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=False) as progress:
        task = progress.add_task(describe, total=count)
        n = 0
        for i, row in enumerate(rows()):
            for k, v in row.items():
                arrays[k][i] = v
            n += 1
            progress.advance(task)
    if n != count:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"cache builder produced {n} items, expected {count}")
    for a in arrays.values():
        a.flush()
    del arrays
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.replace(tmp, entry)
    except OSError:  # another process finished first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return {k: np.load(entry / f"{k}.npy", mmap_mode="r") for k in specs}


class MemmapCached:
    """Mixin for datasets whose arrays are memory-mapped ``.npy`` files in a cache entry.

    Pickled into spawned DataLoader workers, such a dataset sends only the cache path, not
    the arrays (pickling a memmap would copy the whole split); the worker re-opens the files.
    Subclasses set ``_entry`` (the folder) and ``_array_keys`` (the file stems).
    """

    _entry: Path
    _array_keys: tuple[str, ...]
    arrays: dict[str, np.ndarray]  # (None only in the pickled state; __setstate__ re-opens them)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["arrays"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.arrays = {k: np.load(self._entry / f"{k}.npy", mmap_mode="r") for k in self._array_keys}

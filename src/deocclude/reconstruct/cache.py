"""Where the teacher's x* live: ``$DEOCCLUDE_CACHE/teacher_x_<N>.npz`` (names -> x)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.paths import cache_root


def teacher_cache_path(size: int = 128) -> Path:
    return cache_root() / f"teacher_x_{size}.npz"


def load_teacher(path: str | Path | None = None, size: int = 128) -> dict[str, np.ndarray]:
    """The cached fits as arrays: ``names`` (M,), ``x`` (M, 257) float32, ``split``,
    ``landmark_error`` (px), ``photometric_error``; see ``deocclude fit``."""
    path = Path(path) if path is not None else teacher_cache_path(size)
    if not path.is_file():
        raise DeoccludeError(f"teacher cache not found: {path} (run `deocclude fit`)")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_teacher(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a crash never leaves half a cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub matches **arrays against allow_pickle: bool
    os.replace(tmp, path)

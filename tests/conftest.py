"""Shared test fixtures.

Tests that need the shared data folder (``$DEOCCLUDE_DATA``, default ``../shared/data``)
use the ``data_root`` / ``utkface_root`` fixtures, which skip with a clear reason when the
folder is absent (a user's fresh clone has no ``../shared``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from deocclude.paths import REPO_DIR
from deocclude.paths import data_root as _data_root

EXAMPLES_DIR = REPO_DIR / "examples"
TINY_S_FLAGS = ("--model.stem-width 8 --model.stage-widths 8 8 16 16 --model.blocks-per-stage 1 1 1 1 "
                "--model.decoder-widths 16 8 8 8 8").split()
"""`deocclude train segment` flags for a tiny S: the training tests run the real loop in seconds."""


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if not root.is_dir():
        pytest.skip(f"shared data folder not found at {root} (set DEOCCLUDE_DATA to run data tests)")
    return root


@pytest.fixture(scope="session")
def utkface_root(data_root: Path) -> Path:
    root = data_root / "faces" / "utkface"
    if not (root / "landmarks.npz").is_file():
        pytest.skip(f"UTKFace data not found under {root}")
    return root


@pytest.fixture(scope="session")
def wild_root(data_root: Path) -> Path:
    root = data_root / "wild"
    if not root.is_dir():
        pytest.skip(f"wild photos not found under {root}")
    return root


@pytest.fixture(scope="session")
def example_photo() -> Path:
    """The bundled public-domain example photo (scikit-image's astronaut, NASA)."""
    return EXAMPLES_DIR / "astronaut.jpg"


@pytest.fixture()
def one_torch_thread():
    """Many small tensor ops (rasterizer, fits): one thread is much faster than two on a busy
    2-core machine, where OpenMP barriers stall whenever one thread is descheduled."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def load_tool(name: str) -> ModuleType:
    """A script of ``tools/`` (not a package) imported as a module, e.g. ``load_tool("convert_faceplugin")``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_DIR / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module

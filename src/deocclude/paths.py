"""Where things live: the shared data folder and the package's bundled assets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "faces" / "assets"
WEIGHTS_DIR = PACKAGE_DIR / "weights"
REPO_DIR = PACKAGE_DIR.parents[1]


def checkout_commit() -> str:
    """The code's commit as ``git describe`` says it (``abc1234``, ``abc1234-dirty`` with uncommitted
    changes), or "unknown" outside a git checkout: what a run was trained with and a file bundled at."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"], capture_output=True, text=True,
                              cwd=REPO_DIR, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def data_root() -> Path:
    """The shared training/evaluation data folder.

    ``$DEOCCLUDE_DATA`` if set, else ``../shared/data`` next to the repository checkout.
    The folder may not exist (a user's fresh clone): callers must check.
    """
    env = os.environ.get("DEOCCLUDE_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_DIR.parent / "shared" / "data").resolve()


def utkface_root() -> Path:
    return data_root() / "faces" / "utkface"


def cache_root() -> Path:
    """Where derived files are cached (aligned datasets, teacher fits, converted weights).

    ``$DEOCCLUDE_CACHE`` if set, else ``~/.cache/deocclude``. Nothing in it is needed to run
    the bundled models; every entry can be rebuilt from its source.
    """
    env = os.environ.get("DEOCCLUDE_CACHE")
    return Path(env).expanduser().resolve() if env else Path.home() / ".cache" / "deocclude"

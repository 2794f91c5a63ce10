"""Loading the vendored MediaPipe ``.tflite`` models, verified against ``SHA256SUMS``.

The models are read once into memory, hashed, and the interpreter is built from exactly
those bytes, so a file that changes between the check and the load cannot slip through.
A missing or corrupt file is a user-fixable problem (a broken install), hence a
:class:`~deocclude.errors.DeoccludeError` with one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.paths import ASSETS_DIR


@lru_cache(maxsize=1)
def _expected_hashes(assets_dir: Path = ASSETS_DIR) -> dict[str, str]:
    sums = assets_dir / "SHA256SUMS"
    try:
        lines = sums.read_text().splitlines()
    except OSError as exc:
        raise DeoccludeError(f"model checksum file missing: {sums} ({exc.strerror}); reinstall deocclude") from None
    table = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            table[parts[1].lstrip("*")] = parts[0].lower()
    return table


def read_verified_model(name: str, assets_dir: Path = ASSETS_DIR) -> bytes:
    """The bytes of ``assets_dir/name`` after checking their sha256 against ``SHA256SUMS``."""
    expected = _expected_hashes(assets_dir).get(name)
    if expected is None:
        raise DeoccludeError(f"no checksum recorded for model {name} in {assets_dir / 'SHA256SUMS'}")
    path = assets_dir / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeoccludeError(
            f"model file missing or unreadable: {path} ({exc.strerror}); reinstall deocclude"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise DeoccludeError(
            f"model file is corrupt: {path} has sha256 {actual[:12]}…, expected {expected[:12]}…; reinstall deocclude"
        )
    return data


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the C++ runtime's "INFO: Created TensorFlow Lite XNNPACK delegate" line.

    It goes straight to file descriptor 2 (no environment variable turns it off) and would
    litter the CLI's output. Python exceptions are unaffected. Descriptor 2 itself, not
    ``sys.stderr``: under a capture (pytest's capfd, a web server's log) ``sys.stderr`` may have
    no descriptor while fd 2 still reaches the terminal or the captured file.
    """
    fd = 2
    try:
        sys.stderr.flush()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):  # no descriptor 2 at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class TfliteModel:
    """A single-input float32 TFLite model run with ``ai_edge_litert`` (CPU, XNNPACK).

    The interpreter is not thread-safe: use one instance per thread.
    """

    def __init__(self, name: str, num_threads: int = 1, assets_dir: Path = ASSETS_DIR) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy import, only when a model is built

        self.name = name
        content = read_verified_model(name, assets_dir)
        with _quiet_stderr():
            self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        (inp,) = self._interpreter.get_input_details()
        self._input_index = inp["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"])  # (1, H, W, 3)
        self._outputs = self._interpreter.get_output_details()

    @property
    def input_size(self) -> int:
        return self.input_shape[1]

    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(d) for d in out["shape"]) for out in self._outputs]

    def __call__(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run on one (H, W, 3) float32 tensor; the outputs in the model's order, batch removed."""
        self._interpreter.set_tensor(self._input_index, tensor[None].astype(np.float32, copy=False))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(out["index"])[0].copy() for out in self._outputs]

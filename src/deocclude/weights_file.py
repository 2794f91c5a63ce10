"""Reading and writing our bundled network files: safetensors + JSON metadata, never pickle.

Every learned module (S, R, G) stores its tensors (fp16 when bundled) together with the
config that builds the network and the crop size it was trained at, so a file alone is
enough to rebuild the model. This module is the one place that knows the file layout and
turns a missing, corrupt or foreign file into a one-line error.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from deocclude.errors import DeoccludeError, WeightsNotFoundError

ConfigT = TypeVar("ConfigT")


def write_weights(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str], half: bool = True) -> Path:
    """Write a state dict (floating tensors as fp16 when ``half``) with string metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, value in state.items():
        value = value.detach().cpu()
        tensors[name] = (value.half() if half and value.is_floating_point() else value).contiguous()
    save_file(tensors, str(path), metadata=metadata)
    return path


def read_weights(path: str | Path, what: str, expected_format: str | None = None) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and float32 tensors of a weights file written by :func:`write_weights`.

    ``what`` names the module in messages ("segmentation", ...). A file without a ``config``
    entry, or whose ``format`` differs from ``expected_format``, is not one of ours.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"{what} weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # a corrupt or foreign file: say which
        raise DeoccludeError(f"cannot read {what} weights {path}: {exc}") from exc
    if "config" not in meta or (expected_format is not None and meta.get("format") != expected_format):
        raise DeoccludeError(f"{path}: not a deocclude {what} weights file")
    return meta, {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}


def config_to_json(config: object) -> str:
    return json.dumps(dataclasses.asdict(config))


def config_from_json(cls: type[ConfigT], text: str) -> ConfigT:
    """Rebuild a frozen config dataclass; JSON lists become the tuples the dataclasses use."""
    raw = json.loads(text)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

"""Checkpoints with safetensors only: no pickle anywhere, even for our own run folders.

A checkpoint is a folder with ``models.safetensors`` (every model's state dict, keys
prefixed ``<model>.``), ``optim.safetensors`` (the tensors of every optimizer / grad-scaler
state, keys ``<name>/<path>``) and ``state.json`` (everything that is not a tensor: loop
position, optimizer hyper-parameters, the tensor-free parts of optimizer states). It is
written to a temporary folder and renamed, so a kill mid-write never corrupts the last one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

_TENSOR = "__tensor__"


def _split(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested structure by a reference, collecting the tensors."""
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [_split(k, f"{key}/k{i}", tensors), _split(v, f"{key}/{i}", tensors)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, (list, tuple)):
        return {
            "__list__": [_split(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)],
            "tuple": isinstance(obj, tuple),
        }
    return obj


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return tensors[obj[_TENSOR]]
        if "__dict__" in obj:
            return {_join(k, tensors): _join(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_join(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DDP (or anything with ``.module``)."""
    return getattr(model, "module", model)


def model_tensors(models: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{k}": v.detach().cpu().contiguous()
        for name, m in models.items()
        for k, v in unwrap(m).state_dict().items()
    }


def load_model_tensors(models: dict[str, nn.Module], tensors: dict[str, torch.Tensor]) -> None:
    for name, m in models.items():
        prefix = f"{name}."
        unwrap(m).load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})


def save_checkpoint(
    folder: Path, models: dict[str, nn.Module], stateful: dict[str, Any], loop_state: dict[str, Any]
) -> None:
    """Write models, the ``state_dict()`` of every object in ``stateful`` and the loop state."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(model_tensors(models), str(tmp / "models.safetensors"))
    tensors: dict[str, torch.Tensor] = {}
    structure = {name: _split(obj.state_dict(), name, tensors) for name, obj in stateful.items()}
    save_file(tensors, str(tmp / "optim.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"loop": loop_state, "stateful": structure}))
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(
    folder: Path, models: dict[str, nn.Module], stateful: dict[str, Any], device: torch.device
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the loop state."""
    load_model_tensors(models, load_file(str(folder / "models.safetensors"), device=str(device)))
    tensors = load_file(str(folder / "optim.safetensors"), device=str(device))
    saved = json.loads((folder / "state.json").read_text())
    for name, obj in stateful.items():
        if name in saved["stateful"]:
            state = _join(saved["stateful"][name], tensors)
            obj.load_state_dict(state)
    return saved["loop"]


def find_checkpoint(run: Path) -> Path | None:
    """The run's checkpoint, also when a kill happened between the two renames."""
    for name in ("checkpoint", "checkpoint.old"):
        folder = run / name
        if (folder / "state.json").is_file():
            return folder
    return None

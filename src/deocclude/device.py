"""Choosing a torch device from what a user types (``auto``, ``cpu``, ``cuda``, ``cuda:1``)."""

from __future__ import annotations

import torch

from deocclude.errors import DeoccludeError


def resolve_device(device: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` → CUDA when available, else CPU; a bare ``cuda`` means this process's GPU
    (``local_rank`` under torchrun). Unknown names, and CUDA where there is none, are a one-line
    :class:`DeoccludeError`."""
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise DeoccludeError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeoccludeError(
                f"device {device!r}: CUDA is not available here (this torch build or machine has no GPU); "
                "use --device cpu or auto"
            )
        if resolved.index is None:
            resolved = torch.device("cuda", local_rank)
        if resolved.index >= torch.cuda.device_count():
            raise DeoccludeError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return resolved

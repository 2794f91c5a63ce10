"""The one file format of every bundled network: safetensors + string metadata, never pickle.

A weights file holds a network's tensors (fp16 when bundled) and, in its metadata, what it
takes to rebuild and trust it:

- ``format`` (e.g. ``deocclude.segment/1``): which network the tensors belong to;
- ``config``: the frozen config dataclass that builds the network, as JSON (the one codec of
  :mod:`deocclude.config_codec`), and ``size``: the crop size it was trained at;
- ``provenance``: one JSON object (the same codec) with the same fields for every trained network
  (:class:`Provenance`: run, steps, epochs, images, minutes, final validation metrics,
  commits, data, the inputs the weights depend on), written by the one bundler
  (:mod:`deocclude.train.bundle`) and printed into MODEL_CARD.md by
  ``tools/model_card_provenance.py``;
- anything a loader needs besides (G's ``uses_prior``; the identity nets' ``source``).

Each kind of file is one :class:`NetworkFile` declared next to its network (``S_FILE`` in
:mod:`deocclude.segment.inference`, ``R_FILE``, ``G_FILE``, the identity nets'), so saving and
loading, with the same checks and one-line errors for a missing, corrupt or foreign file, is
written once, here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from deocclude.config_codec import config_from_json, config_to_json
from deocclude.errors import DeoccludeError, WeightsNotFoundError

NetT = TypeVar("NetT", bound=nn.Module)
MAX_BUNDLED_BYTES = 25 * 1024 * 1024  # every file shipped in src/deocclude/weights/ stays under this
PROVENANCE_KEY = "provenance"


def write_tensors(
    state: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str], half: bool = True
) -> Path:
    """Write tensors (floating ones as fp16 when ``half``) with string metadata; makes the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, value in state.items():
        value = value.detach().cpu()
        tensors[name] = (value.half() if half and value.is_floating_point() else value).contiguous()
    save_file(tensors, str(path), metadata=dict(metadata))
    return path


def read_tensors(
    path: str | Path, what: str, as_float32: bool = True
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors of a safetensors file (floating ones as float32 unless told otherwise).

    ``what`` names the network in messages ("segmentation", ...): a missing file raises
    :class:`WeightsNotFoundError` (callers treat the stage as not installed), an unreadable
    one a :class:`DeoccludeError` naming the file.
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
    if as_float32:
        tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    return meta, tensors


def tensors_sha256(path: str | Path) -> str:
    """One digest of a file's tensors (names, dtypes, shapes, bytes), blind to its metadata.

    Rewriting a bundled file's metadata must leave this unchanged: the test of
    ``tools/convert_model_metadata.py`` compares it with the digests from before the rewrite.
    """
    digest = hashlib.sha256()
    with safe_open(str(path), framework="pt", device="cpu") as f:
        for name in sorted(f.keys()):
            tensor = f.get_tensor(name).contiguous()
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_metadata(path: str | Path) -> dict[str, str]:
    """Only the metadata (the header is read, not the tensors)."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        return dict(f.metadata() or {})


@dataclass(frozen=True)
class Provenance:
    """Where a trained network's weights came from, with the same fields for S, R and G.

    The loop's numbers come from the run's last ``end`` record; ``data`` and ``inputs`` from
    the training task (:meth:`deocclude.train.task.Task.provenance`). ``inputs`` names what
    the weights only make sense with (R's x needs the face model it was trained against) or
    what distinguishes an ablation (G's prior, L_ssim). ``note`` says what a converter
    filled in, so nothing in a file pretends to be measured when it was copied.
    """

    run: str = "unknown"  # the run folder's name
    steps: int | None = None
    epochs: float | None = None
    images: int | None = None
    minutes: float | None = None  # training wall-clock, counted across --resume
    val: dict[str, float] = field(default_factory=dict)  # the last validation's metrics
    trained_with_commit: str = "unknown"
    bundled_at_commit: str = "unknown"
    data: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """What a weights file says about its network besides the tensors."""

    config: Any  # the network's config dataclass; None for networks without one (the identity nets)
    size: int | None  # crop size it was trained at; None when the file does not say
    metadata: dict[str, str]  # every entry, as stored

    @property
    def provenance(self) -> Provenance | None:
        text = self.metadata.get(PROVENANCE_KEY)
        return config_from_json(Provenance, text) if text else None


@dataclass(frozen=True)
class NetworkFile(Generic[NetT]):
    """One kind of weights file: which network it holds and how to rebuild it.

    ``build`` makes the network from the decoded config (or from nothing when
    ``config_class`` is None); ``require_format`` rejects a file whose ``format`` differs
    (S's oldest files predate the entry, so S only requires a ``config``).
    """

    what: str  # "segmentation", "reconstruction", ...: named in error messages
    format: str | None
    build: Callable[..., NetT]
    config_class: type | None
    default_path: Path
    default_size: int = 128  # the size of files that do not say (the first S files)
    require_format: bool = True

    def metadata(self, config: Any, size: int | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The entries a loader needs: format, config and size (what a training task exports)."""
        meta: dict[str, str] = {}
        if self.format is not None:
            meta["format"] = self.format
        if self.config_class is not None:
            meta["config"] = config_to_json(config)
        if size is not None:
            meta["size"] = str(size)
        return {**meta, **(extra or {})}

    def save(self, net: NetT | Mapping[str, torch.Tensor], path: str | Path, size: int | None = None, *,
             config: Any = None, extra: Mapping[str, str] | None = None, provenance: Provenance | None = None,
             half: bool = True) -> Path:
        """Write a network (or its state dict, then with ``config``) as (fp16) safetensors.

        ``path`` has no default on purpose: the default path is the shipped file, which only
        the bundler (:mod:`deocclude.train.bundle`) replaces.
        """
        if isinstance(net, nn.Module):
            state: Mapping[str, torch.Tensor] = net.state_dict()
            config = getattr(net, "config", None) if config is None else config
        else:
            state = net
        if self.config_class is not None and config is None:
            raise TypeError(f"saving a {self.what} state dict needs its config")
        meta = self.metadata(config, size, extra)
        if provenance is not None:
            meta[PROVENANCE_KEY] = config_to_json(provenance)
        return write_tensors(state, path, meta, half)

    def read(self, path: str | Path | None = None) -> tuple[ModelInfo, dict[str, torch.Tensor]]:
        """The file's description and float32 tensors; a file of another kind is refused by name."""
        path = self.default_path if path is None else Path(path)
        meta, tensors = read_tensors(path, self.what)
        foreign = (self.config_class is not None and "config" not in meta) or (
            self.require_format and self.format is not None and meta.get("format") != self.format)
        if foreign:
            raise DeoccludeError(f"{path}: not a deocclude {self.what} weights file")
        config = config_from_json(self.config_class, meta["config"]) if self.config_class is not None else None
        size = int(meta["size"]) if "size" in meta else (self.default_size if self.config_class is not None else None)
        return ModelInfo(config, size, meta), tensors

    def load(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> tuple[NetT, ModelInfo]:
        """The network a file describes, its tensors loaded strictly (float32, eval mode)."""
        info, tensors = self.read(path)
        net = self.build(info.config) if self.config_class is not None else self.build()
        net.load_state_dict(tensors)
        return net.to(device).eval(), info


__all__ = [
    "MAX_BUNDLED_BYTES",
    "ModelInfo",
    "NetworkFile",
    "Provenance",
    "read_metadata",
    "read_tensors",
    "tensors_sha256",
    "write_tensors",
]

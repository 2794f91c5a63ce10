"""Training configs as frozen dataclasses, and the CLI flags derived from them.

Every field of a recipe's config becomes a flag automatically (``lr`` → ``--lr``,
``batch_size`` → ``--batch-size``, nested dataclasses get a dotted prefix:
``model.stem_width`` → ``--model.stem-width``), so adding a field never means touching
the parser. Only the flags a user actually gives override the base config, which lets
``--resume`` start from the run's saved config and change just, say, ``--max-minutes``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from deocclude.config_codec import config_from_json, config_to_json, is_dataclass_type

C = TypeVar("C")


@dataclass(frozen=True)
class TrainConfig:
    """What every recipe shares. Recipes subclass this and add their own fields."""

    out: str = "runs/train"  # run folder: config.json, log.jsonl, checkpoint/, grids/, final/
    seed: int = 20261125
    batch_size: int = 16  # per process (paper: 16 for S and R, 4 for G)
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    max_minutes: float = 60.0  # wall-clock budget in total, counted across --resume
    max_steps: int = 0  # 0 = no step limit
    max_epochs: float = 0.0  # 0 = no epoch limit
    lr_drop_at: float = 0.5  # fraction of the budget (time or steps) after which the lr drops
    lr_drop_factor: float = 0.2
    val_every_minutes: float = 10.0
    val_every_steps: int = 0  # 0 = by time only
    checkpoint_every_minutes: float = 5.0
    log_every_steps: int = 10
    num_workers: int = 1  # data-loader worker processes per rank
    threads: int = 1  # torch intra-op threads per process (0 = torch default). 1, not 2: on the shared 2-core
    # machine (load ~14) 2 threads ran 1.5 img/s and 1 thread 11 img/s (OpenMP barriers stall when a thread is
    # descheduled)
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun: cuda:LOCAL_RANK)
    amp: bool = True  # mixed precision on CUDA (bf16 when supported, else fp16 + GradScaler); ignored on CPU
    fast_cpu: bool = False  # CPU: the layout / dtype a measured probe finds fastest (deocclude.precision): bf16
    # autocast + channels_last where bf16 is native and faster, else fp32 channels_last where faster, else fp32 NCHW
    # (benchmarks/bf16.py). Off by default, so the recipes of the bundled weights stay bit-for-bit what they were
    resume: bool = False  # continue from <out>/checkpoint if it exists
    init_from: str = ""  # start a new run from another run's weights (its folder or checkpoint folder; models only)
    # or from an exported .safetensors (the bundled file: what the task ships, e.g. G without its D)


def _scalar_parser(tp: Any) -> tuple[Any, str | None]:
    """(converter, nargs) for a field type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _scalar_parser(args[0])
    if origin is tuple:
        elements = typing.get_args(tp)
        return (elements[0] if elements else str), "+"
    if tp is bool:
        return _parse_bool, "?"
    return tp, None


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_config_flags(parser: argparse.ArgumentParser, cls: type, prefix: str = "", defaults: Any = None) -> None:
    """Add one flag per (nested) field of ``cls``; unset flags are absent from the namespace."""
    defaults = defaults if defaults is not None else cls()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        value = getattr(defaults, f.name)
        if is_dataclass_type(tp):
            add_config_flags(parser, tp, f"{prefix}{f.name}.", value)
            continue
        conv, nargs = _scalar_parser(tp)
        flag = "--" + (prefix + f.name).replace("_", "-")
        kwargs: dict[str, Any] = {"dest": prefix + f.name, "type": conv, "default": argparse.SUPPRESS}
        if nargs == "?":
            kwargs.update(nargs="?", const=True)
        elif nargs:
            kwargs["nargs"] = nargs
        shown = list(value) if isinstance(value, tuple) else value
        parser.add_argument(flag, help=f"default: {shown}", **kwargs)


def overrides_from_args(args: argparse.Namespace, cls: type, prefix: str = "") -> dict[str, Any]:
    """The flags the user gave, as a nested dict of field values."""
    given = vars(args)
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if is_dataclass_type(tp):
            sub = overrides_from_args(args, tp, f"{prefix}{f.name}.")
            if sub:
                out[f.name] = sub
        elif prefix + f.name in given:
            value = given[prefix + f.name]
            out[f.name] = tuple(value) if isinstance(value, list) else value
    return out


def apply_overrides(config: C, overrides: dict[str, Any]) -> C:
    """``dataclasses.replace`` that recurses into nested config dataclasses."""
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        current = getattr(config, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[name] = apply_overrides(current, value)
        else:
            changes[name] = value
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def save_config(config: Any, path: Path) -> None:
    """A run's ``config.json``, through the one config codec (weights files use it too)."""
    path.write_text(config_to_json(config, indent=2) + "\n")


def load_config(cls: type[C], path: Path) -> C:
    return config_from_json(cls, path.read_text())

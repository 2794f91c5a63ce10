"""The one codec between frozen config dataclasses and JSON (no torch import).

Used for a training run's ``config.json`` (:mod:`deocclude.train.config`) and for the
``config`` entry of every weights file (:mod:`deocclude.model_file`), so a config written by
one is read by the other: JSON lists become the tuples the dataclasses declare, nested
dataclasses are rebuilt, and keys a newer or older config does not know are ignored (a run
folder from an older commit still loads).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT")


def is_dataclass_type(tp: Any) -> bool:
    """True for a dataclass *type* (a nested config field), not an instance."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain dict of a (nested) config dataclass; tuples stay tuples until JSON makes them lists."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[ConfigT], data: dict[str, Any]) -> ConfigT:
    """Rebuild a (nested) config from :func:`config_to_dict` output; unknown keys are ignored."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        tp, value = hints[f.name], data[f.name]
        if is_dataclass_type(tp):
            kwargs[f.name] = config_from_dict(tp, value)
        elif isinstance(value, list):
            kwargs[f.name] = tuple(value)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def config_to_json(config: Any, indent: int | None = None) -> str:
    """JSON text of a config (compact by default: the form stored in weights-file metadata)."""
    return json.dumps(config_to_dict(config), indent=indent)


def config_from_json(cls: type[ConfigT], text: str) -> ConfigT:
    """Inverse of :func:`config_to_json`."""
    return config_from_dict(cls, json.loads(text))


__all__ = ["config_from_dict", "config_from_json", "config_to_dict", "config_to_json"]

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


def config_with_overrides(config: ConfigT, overrides: typing.Iterable[str]) -> ConfigT:
    """``config`` with ``FIELD=JSON`` settings applied (``--set`` of ``deocclude eval`` and the benchmarks).

    Why JSON values: one syntax reaches every field of any config (numbers, ``true``, ``"telea"``,
    lists) without a flag per field, so a new knob can be measured the day it is added. Raises
    :class:`ValueError` with a one-line message naming the known fields.
    """
    fields = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    data = config_to_dict(config)
    for item in overrides:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise ValueError(f"--set wants FIELD=JSON with FIELD one of {', '.join(sorted(fields))}; got {item!r}")
        try:
            data[name] = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"--set {name}: {value!r} is not JSON (strings need double quotes)") from None
    return config_from_dict(type(config), data)


__all__ = ["config_from_dict", "config_from_json", "config_to_dict", "config_to_json", "config_with_overrides"]

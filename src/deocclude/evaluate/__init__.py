"""Evaluation protocols behind ``deocclude eval --protocol NAME``.

:data:`PROTOCOLS` maps each protocol to the module that runs it, so adding a protocol is
one line here plus one module; the command never changes. A protocol module exposes

- ``add_arguments(parser)`` (optional): its own options. It is called once per module
  (``sunglasses``, ``mixed``, ``facemask`` and ``eyeglasses`` share one) on the ``eval`` parser, after the shared
  options
  (``--limit``, ``--device``, ``--batch-size``, ``--seed``, ``--threads``...), so a module
  must not re-add a shared flag;
- ``run(args) -> dict``: evaluate and return the report, a JSON-serialisable dict. The
  command writes it to ``<output-dir>/eval_<protocol>.json``;
- ``markdown(report) -> str`` (optional): the report as markdown tables; the command writes
  it to ``eval_<protocol>.md`` below the exact command that produced it.

Modules are imported lazily (only the chosen protocol's module runs anything heavy, and a
missing module is a one-line error rather than a broken ``deocclude --help``), so their
top-level imports must stay light: no torch at import time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from deocclude.errors import DeoccludeError

PROTOCOLS: dict[str, str] = {
    "sunglasses": "deocclude.evaluate.table1",
    "mixed": "deocclude.evaluate.table1",
    "facemask": "deocclude.evaluate.table1",
    "eyeglasses": "deocclude.evaluate.table1",
    "lfw": "deocclude.evaluate.lfw",
    "privacy": "deocclude.evaluate.privacy",
}


def protocol_module(name: str) -> ModuleType:
    """The module that runs protocol ``name``; a missing module or dependency is a :class:`DeoccludeError`."""
    if name not in PROTOCOLS:
        raise DeoccludeError(f"unknown evaluation protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    path = PROTOCOLS[name]
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name == path:
            raise DeoccludeError(
                f"protocol {name!r} is not available in this installation ({path} is missing)"
            ) from None
        raise DeoccludeError(
            f"protocol {name!r} needs the Python package {exc.name!r}, which is not installed"
        ) from None

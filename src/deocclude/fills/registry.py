"""The ``Fill`` contract and the registry every fill is looked up in by name.

A fill restores the occluded pixels of a :class:`~deocclude.face_batch.FaceBatch`:
``fill(batch) -> (B, 3, N, N)`` float32 in [0, 1] on the CPU, equal to ``batch.crops``
outside ``batch.occlusion`` (M_O, 1 = fill). Everything that fills a mask goes through it:
``deocclude run`` (``--fill``), every row of ``deocclude eval`` and ``deocclude bench``.

A new fill is one file in this package: a class with ``name``, ``label``, ``needs_render``,
``__call__`` and ``describe``,
decorated with :func:`register_fill`; the package imports every module in it on first lookup
(LaMa's "a fill is any callable(image, mask)", with the batch carrying what guided fills need).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from deocclude.errors import DeoccludeError

if TYPE_CHECKING:
    import torch

    from deocclude.face_batch import FaceBatch


@runtime_checkable
class Fill(Protocol):
    """What every fill is (see the module docstring)."""

    name: str
    """The registry key (``--fill NAME``)."""
    label: str
    """What evaluation rows and the manifest's ``method`` call it, e.g. ``OpenCV Telea``."""
    needs_render: bool
    """True when the fill follows R's render I_R (``batch.render`` must be set)."""

    def __call__(self, batch: FaceBatch) -> torch.Tensor: ...

    def describe(self, batch: FaceBatch) -> str:
        """What ran on ``batch``, for the manifest's ``method`` (the label, plus what it followed)."""
        ...


FillFactory = Callable[..., Fill]
_FACTORIES: dict[str, FillFactory] = {}


def register_fill(name: str) -> Callable[[FillFactory], FillFactory]:
    """Class decorator: make ``name`` a fill. The factory takes keyword options (``device``, ...)."""
    def decorate(factory: FillFactory) -> FillFactory:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ValueError(f"two fills are registered as {name!r}")
        _FACTORIES[name] = factory
        return factory
    return decorate


_DISCOVERED = False


def _discover() -> None:
    """Import every fill module of the package once (every DeoccluderConfig asks for the choices)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import deocclude.fills as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "registry":
            importlib.import_module(f"{package.__name__}.{module.name}")
    _DISCOVERED = True


def fill_names() -> tuple[str, ...]:
    """Every registered fill, in a stable order (``--fill`` choices, besides ``auto``)."""
    _discover()
    return tuple(sorted(_FACTORIES))


def fill_choices() -> tuple[str, ...]:
    """``auto`` (the pipeline picks the best fill its installed weights allow) and every registered fill."""
    return ("auto", *fill_names())


def make_fill(name: str, true_colour: bool = True, **options: object) -> Fill:
    """The fill registered as ``name``, built with ``options`` (each fill takes the ones it needs:
    ``device`` for all, ``weights`` / ``label`` / ``half`` for G). Unknown names are a one-line error.

    ``true_colour``: wrap it in :class:`deocclude.fills.colour.ColourTrue` (its pixels follow the
    photo's colours: a greyscale photo gets a greyscale fill); False gives the raw fill.
    """
    from deocclude.fills.colour import ColourTrue

    _discover()
    if name not in _FACTORIES:
        raise DeoccludeError(f"unknown fill {name!r} (available: {', '.join(fill_names())})")
    fill = _FACTORIES[name](**options)
    return ColourTrue(fill) if true_colour else fill

"""Fills: what restores the occluded pixels M_O of a face batch, looked up by name.

``make_fill("telea" | "navier-stokes" | "prior" | "g", device=...)(batch)``; the contract and
the registry are in :mod:`deocclude.fills.registry`, each fill is one file beside it.
"""

from deocclude.fills.registry import (
    Fill,
    fill_choices,
    fill_names,
    make_fill,
    register_fill,
)

__all__ = ["Fill", "fill_choices", "fill_names", "make_fill", "register_fill"]

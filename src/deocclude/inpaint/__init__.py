"""G: guided inpainting of the occluded face region (and the classical baselines)."""

from typing import Literal, get_args

Fill = Literal["auto", "prior", "telea", "navier-stokes", "g"]
"""How the pipeline fills M_O (``DeoccluderConfig.fill``; ``--fill`` of run and bench)."""
FILLS: tuple[str, ...] = get_args(Fill)

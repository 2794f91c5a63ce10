"""The fills every evaluation compares, and the automatic pipeline's masks they are tried on.

Rows differ only in what they put inside the mask: each fill of the registry
(deocclude/fills) gets the same :class:`~deocclude.face_batch.FaceBatch`, with the found M_O
(``automatic`` rows) or the oracle mask swapped in (:meth:`FaceBatch.with_occlusion`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.face_batch import FaceBatch, images_to_tensor
from deocclude.fills import Fill, make_fill

if TYPE_CHECKING:
    from deocclude.fills.g import GFill
    from deocclude.pipeline import DeoccluderConfig

to_tensor = images_to_tensor  # the evaluations' name for it: crops to the metrics' tensors


def load_gs(g_weights: tuple[tuple[str, str], ...], device: str) -> list[GFill]:
    """A G fill for every ``(label, weights)``; a file that is not G's weights is a one-line error."""
    loaded = []
    for label, path in g_weights:
        try:
            # the "g" factory is the GFill class (deocclude/fills/g.py)
            loaded.append(cast("GFill", make_fill("g", device=device, weights=str(path), label=label)))
        except DeoccludeError as exc:
            raise DeoccludeError(f"--g-weights {label}: {exc}") from None
    return loaded


def usable(fills: list[Fill], batch: FaceBatch) -> list[Fill]:
    """The fills that can run on ``batch`` (those that follow I_R need R's render)."""
    return [fill for fill in fills if batch.render is not None or not fill.needs_render]


@dataclass(frozen=True)
class AutomaticMasks:
    """What the automatic rows need from the pipeline for one batch of canonical crops."""

    batch: FaceBatch
    """The crops with S's M_F, R's I_R and M_R, and the found M_O (zeros where the pipeline failed)."""
    failed: int
    method: str
    """The stages that ran (e.g. ``S + R``), for the report."""


class AutomaticPipeline:
    """The full pipeline on canonical crops, up to the mask: S and R find M_O, exactly as
    ``deocclude run`` does; the rows then fill that one mask with every fill."""

    def __init__(self, config: DeoccluderConfig) -> None:
        from deocclude.pipeline import Deoccluder

        self.deoccluder = Deoccluder(replace(config, fill="telea"))  # the fill is never run: no weights to load
        self.device = self.deoccluder.device
        if not self.deoccluder.can_remove_occlusions:
            raise DeoccludeError("the automatic rows need S's weights (segment_s.safetensors), which are not installed")

    def __call__(self, occluded: np.ndarray, seed: int = 0) -> AutomaticMasks:
        from deocclude.pipeline import face_batch

        d = self.deoccluder
        faces = d.find_occlusions(d.aligned_faces(list(occluded)))
        ok = [f.status == "ok" and f.occlusion_mask is not None for f in faces]
        batch = face_batch(faces, self.device)
        batch.seed = seed
        methods = sorted({f.method for f, good in zip(faces, ok) if good})
        return AutomaticMasks(batch, failed=ok.count(False), method=", ".join(methods))

"""The two ground-truth masks of a synthetic occlusion, and how a found mask agrees with one.

A synthetic occluder comes with its exact opacity A, and the clean face with its surface
(``mesh_mask``, rasterised from the clean landmarks: what M_R should be). From them:

- the **true occlusion** T = (A > 0.5) ∩ surface: the pixels that are scored, and the
  reference for the automatic M_O's IoU / precision / recall. Opacity 0.5 splits the soft
  occluder rim the way a person labelling it would;
- the **oracle fill mask** = A ⊙ surface > 0.1 (``HOLE_THRESHOLD``, the oracle of the G
  issue and ``benchmarks/results/inpaint.json``): what the mask-based baselines are given,
  the paper's "manually labelled occlusion mask". It contains T and also the faint rim, so
  an oracle fill leaves no tinted fringe next to the scored region.
"""

from __future__ import annotations

import numpy as np

ORACLE_THRESHOLD = 0.1  # = deocclude.inpaint.data.HOLE_THRESHOLD (kept here: that module imports torch)


def true_occlusion(alpha: np.ndarray, surface: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """T = (A > threshold) ∩ (surface > 0.5), boolean, any leading shape."""
    return (np.asarray(alpha) > threshold) & (np.asarray(surface) > 0.5)


def oracle_fill_mask(alpha: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """A ⊙ surface > 0.1 as float32 (1 = fill): the mask the oracle rows are given."""
    return (np.asarray(alpha) * np.asarray(surface) > ORACLE_THRESHOLD).astype(np.float32)


def own_occlusion(face_mask: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """The clean face's own occlusions: surface pixels that are not visible face (labelled hair, outside the photo)."""
    return (np.asarray(surface) > 0.5) & (np.asarray(face_mask) < 0.5)


def mask_agreement(found: np.ndarray, true: np.ndarray, own: np.ndarray | None = None,
                   occluder: np.ndarray | None = None, tinted: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-image IoU, precision and recall of ``found`` against ``true`` ((B, H, W), > 0.5 = on).

    With ``own`` (the clean face's own occlusions, e.g. hair) also ``precision_with_own``: a
    found pixel counts as right when it is under the synthetic occluder *or* under the face's
    own hair, which the pipeline rightly removes too but T does not contain. With ``occluder``
    (the whole occluder, on the face surface or not) also ``precision_whole_occluder``: a found
    pixel counts as right anywhere under the occluder, since M_O is grown past the face surface
    on purpose (glasses temples, a mask's band under the jaw) where T, on the surface only, ends.
    With ``tinted`` (every pixel the occluder covers at more than the oracle's opacity, its soft edge
    included) also ``precision_tinted``: M_O's rim takes the occluder's blended edge on purpose (a halo
    stays otherwise), and the oracle mask fills those pixels too; T, at opacity 0.5, leaves them out.
    Undefined ratios are NaN, never a made-up 0 or 1, so that means over faces skip them:
    precision when nothing was found, recall when nothing is truly occluded, IoU when both
    are empty. ``partial`` (0 / 1 per image) says the occluder was removed in pieces: 15-85 % of T found.
    """
    p = np.asarray(found).reshape(len(found), -1) > 0.5
    t = np.asarray(true).reshape(len(true), -1) > 0.5
    inter = (p & t).sum(1).astype(np.float64)
    union = (p | t).sum(1).astype(np.float64)
    found_px = p.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"iou": inter / union, "precision": inter / found_px, "recall": inter / t.sum(1)}
        # removed in pieces: between 15 % and 85 % of T found (a frame kept around a removed bridge)
        out["partial"] = np.where(np.isnan(out["recall"]), np.nan, (out["recall"] > 0.15) & (out["recall"] < 0.85))
        if own is not None:
            o = np.asarray(own).reshape(len(own), -1) > 0.5
            out["precision_with_own"] = (p & (t | o)).sum(1) / found_px
        if occluder is not None:
            w = np.asarray(occluder).reshape(len(occluder), -1) > 0.5
            out["precision_whole_occluder"] = (p & (t | w)).sum(1) / found_px
        if tinted is not None:
            e = np.asarray(tinted).reshape(len(tinted), -1) > 0.5
            out["precision_tinted"] = (p & (t | e)).sum(1) / found_px
    return out

"""S's classes: what each output channel means, and how logits become probabilities.

S is a face *parser* (issue 15): per pixel, softmax over [face, hair, other]. Keeping hair
apart from occluders is what lets the pipeline keep natural hair (M_O = M_R ⊙ P(other))
instead of repainting fringes as skin. An old binary S (one sigmoid logit, "visible face")
still loads: its probabilities read as face = p, hair = 0, other = 1 − p, so a pipeline
fed old weights behaves exactly as before.
"""

from __future__ import annotations

import torch

CLASSES: tuple[str, ...] = ("face", "hair", "other")
FACE, HAIR, OTHER = 0, 1, 2
BINARY_CHANNELS = 1  # the old S: one logit "visible face"


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) logits → (B,3,H,W) float32 probabilities [face, hair, other] that sum to 1."""
    logits = logits.float()
    if logits.shape[1] == BINARY_CHANNELS:
        p = torch.sigmoid(logits)
        return torch.cat([p, torch.zeros_like(p), 1.0 - p], dim=1)
    if logits.shape[1] != len(CLASSES):
        raise ValueError(
            f"S has {logits.shape[1]} output channels; expected 1 (binary) or {len(CLASSES)} ({', '.join(CLASSES)})"
        )
    return torch.softmax(logits, dim=1)


def face_probability(logits: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) logits → (B,1,H,W) P(visible face), for either kind of S."""
    if logits.shape[1] == BINARY_CHANNELS:
        return torch.sigmoid(logits.float())
    return class_probabilities(logits)[:, FACE : FACE + 1]


def parse_targets(
    face: torch.Tensor, hair: torch.Tensor, alpha: torch.Tensor, occluder_is_hair: bool | torch.Tensor
) -> torch.Tensor:
    """Soft per-pixel class targets (…,3,H,W) from (…,1,H,W) masks.

    Under the pasted occluder (opacity ``alpha``) the pixel is that occluder: hair when the
    synthesizer drew hair (donor hair or procedural bangs), else other. Outside it, the
    pseudo-labels: face where UTKFace's face mask is, hair where its hair mask is, and other
    for everything else (background, neck, clothes, real occluders the labels missed).
    ``face`` and ``hair`` are disjoint by construction (face = mesh ⊙ (1 − hair)).
    """
    is_hair = torch.as_tensor(occluder_is_hair, dtype=alpha.dtype, device=alpha.device)
    if is_hair.ndim:  # one flag per sample: broadcast over (1,H,W)
        is_hair = is_hair.view(-1, *([1] * (alpha.ndim - 1)))
    t_face = face * (1.0 - alpha)
    t_hair = (hair * (1.0 - face)).clamp(0, 1) * (1.0 - alpha) + alpha * is_hair
    t_other = (1.0 - t_face - t_hair).clamp_min(0.0)
    return torch.cat([t_face, t_hair, t_other], dim=-3)

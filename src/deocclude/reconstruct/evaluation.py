"""How far a reconstruction x is from the teacher's x* on the clean face (R's metrics).

Used by the training loop's validation and by ``benchmarks/reconstruct_robustness.py``,
so the numbers in the log and in the results file mean the same thing:

- ``landmark``: mean 2-D distance (px at N) between the 468 projected vertices of x and x*;
- ``photometric``: eq. 6's masked colour distance ||I - I_R(x)||_2 averaged over
  M = M_F(clean) ⊙ M_R(x*). The mask is the *teacher's*, fixed per face, so a method whose
  render misses part of the face is charged for it (I_R = 0 there) instead of excused;
- ``iou``: IoU of M_R(x) with M_R(x*).
"""

from __future__ import annotations

import torch

from deocclude.reconstruct.face_model import FaceModel, Rendered


@torch.no_grad()
def reconstruction_errors(face_model: FaceModel, x: torch.Tensor, reference: Rendered, image: torch.Tensor,
                          face_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-face errors (B,) of coefficients ``x`` against the teacher's ``reference`` render.

    ``image`` (B, 3, N, N) and ``face_mask`` (B, 1, N, N) are the clean face's.
    """
    pred = face_model.render(x.float(), image.shape[-1])
    return render_errors(pred, reference, image, face_mask)


def render_errors(
    pred: Rendered, reference: Rendered, image: torch.Tensor, face_mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Like :func:`reconstruction_errors` for an already rendered prediction."""
    landmark = (pred.landmarks - reference.landmarks).norm(dim=-1).mean(1)
    m = face_mask * reference.mask
    dist = ((pred.image - image) ** 2).sum(1, keepdim=True).sqrt()
    photometric = (dist * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp(min=1.0)
    a, b = pred.mask > 0.5, reference.mask > 0.5
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float().clamp(min=1.0)
    return {"landmark": landmark, "photometric": photometric, "iou": inter / union}

"""R's training losses, docs/method.md §4, eqs. 5-9.

All targets come from the *clean* face: the teacher's x* (fitted to the clean photo), the
clean image I and its visible-face mask M_F. The network only ever sees the occluded
copy, so every term asks "reconstruct the face that is behind the occluder".

Landmark weights (eq. 8): w = 20 on the nose and inner-mouth points, 1 elsewhere. The
MediaPipe mesh indices are those of MediaPipe's ``FACEMESH_NOSE`` connection set (24
points: the bridge 168-6-197-195-5-4-1-19-94-2, the tip and both alae) and of the inner
lip loops of ``FACEMESH_LIPS`` (20 points: 78-191-80-81-82-13-312-311-310-415-308 above,
78-95-88-178-87-14-317-402-318-324-308 below). The paper weights the nose and inner mouth
because their 2-D error is small in pixels but decides how the face looks.
"""

from __future__ import annotations

import torch

from deocclude.reconstruct.face_model import FaceModel, Rendered
from deocclude.reconstruct.regressor_config import ReconstructLossConfig

NOSE_POINTS = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45, 220, 115, 48, 64)
INNER_MOUTH_POINTS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)


def landmark_weights(n_points: int = 468, heavy: float = 20.0) -> torch.Tensor:
    """w_n of eq. 8: ``heavy`` for nose and inner-mouth points, 1 otherwise."""
    w = torch.ones(n_points)
    w[list(NOSE_POINTS) + list(INNER_MOUTH_POINTS)] = heavy
    return w


def coefficient_loss(x: torch.Tensor, x_star: torch.Tensor) -> torch.Tensor:
    """Eq. 5: (1/n) ||x - x*||^2, averaged over the batch."""
    return ((x - x_star) ** 2).mean()


def pixel_loss(image: torch.Tensor, render: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Eq. 6: sum over M of the per-pixel colour distance ||I - I_R||_2, divided by sum M.

    ``mask`` (B, 1, N, N) is M = M_F ⊙ M_R. Summed over the whole batch before dividing,
    so faces with more visible pixels count more, as in the equation. ``eps`` keeps the
    square root's gradient finite where I_R = I exactly.
    """
    dist = ((image - render) ** 2).sum(1, keepdim=True).add(eps).sqrt()
    return (dist * mask).sum() / mask.sum().clamp(min=1.0)


def perceptual_loss(target_embedding: torch.Tensor, render_embedding: torch.Tensor) -> torch.Tensor:
    """Eq. 7: 1 - cos(φ(I ⊙ M), φ(I_R ⊙ M)), averaged over the batch."""
    cos = torch.nn.functional.cosine_similarity(render_embedding, target_embedding.to(render_embedding.dtype), dim=1)
    return (1.0 - cos).mean()


def landmark_loss(points: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 8: (1/N) Σ w_n ||q_n - q*_n||^2 in pixels, averaged over the batch."""
    sq = ((points - target) ** 2).sum(-1)  # (B, N)
    return (sq * weights.to(sq.dtype)).mean()


class ReconstructLoss:
    """Eq. 9 on one batch: renders x, embeds the masked face and render, returns every term.

    ``identity`` maps (B, 3, N, N) crops in [0, 1] to embeddings (the dlib ResNet of
    :mod:`deocclude.identity`); it is frozen, gradients flow through it to the render.
    """

    def __init__(
        self, face_model: FaceModel, identity, config: ReconstructLossConfig = ReconstructLossConfig()
    ) -> None:  # noqa: ANN001
        self.face_model = face_model
        self.identity = identity
        self.config = config
        self.weights = landmark_weights(heavy=config.landmark_heavy_weight).to(face_model.mean_shape.device)

    def __call__(self, x: torch.Tensor, x_star: torch.Tensor, image: torch.Tensor,
                 face_mask: torch.Tensor) -> tuple[dict[str, torch.Tensor], Rendered]:
        """Terms (``loss`` = eq. 9) and the render of x. ``image`` and ``face_mask`` (M_F)
        are the clean face's, (B, 3|1, N, N)."""
        c = self.config
        size = image.shape[-1]
        rendered = self.face_model.render(x, size)
        with torch.no_grad():
            target_points = self.face_model.landmarks(x_star, size)[..., :2]
        mask = face_mask * rendered.mask
        terms = {
            "coef": coefficient_loss(x, x_star),
            "pix": pixel_loss(image, rendered.image, mask),
            "lm": landmark_loss(rendered.landmarks, target_points, self.weights),
        }
        if c.per > 0:
            k = len(x) if c.per_faces <= 0 else min(c.per_faces, len(x))
            with torch.no_grad():
                target_emb = self.identity(image[:k] * mask[:k])
            terms["per"] = perceptual_loss(target_emb, self.identity(rendered.image[:k] * mask[:k]))
        else:
            terms["per"] = x.new_zeros(())
        terms["loss"] = c.coef * terms["coef"] + c.pix * terms["pix"] + c.per * terms["per"] + c.lm * terms["lm"]
        return terms, rendered

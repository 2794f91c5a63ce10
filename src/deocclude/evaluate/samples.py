"""The faces of a Table 1 protocol, in batches, with their ground truth.

The faces are the UTKFace test split through :func:`deocclude.synth.protocols.iterate_protocol`,
the same seeded set ``deocclude synth --protocol`` writes, so an evaluation never needs the
set on disk. The occluded crop is quantised to uint8 first: that is what a user's photo is,
and what S, R, OpenCV and G all receive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from deocclude.errors import DeoccludeError
from deocclude.evaluate.config import Table1Config
from deocclude.evaluate.masks import ORACLE_THRESHOLD, oracle_fill_mask, own_occlusion, true_occlusion


@dataclass(frozen=True)
class EvalBatch:
    """Up to ``batch_size`` protocol faces; masks are (B, N, N) numpy, images as noted."""

    indices: list[int]
    names: list[str]
    categories: list[str]
    clean: torch.Tensor
    """(B, 3, N, N) float in [0, 1]: the face before occlusion."""
    occluded: np.ndarray
    """(B, N, N, 3) uint8: the input every method gets."""
    true: np.ndarray
    """(B, N, N) bool: the true occlusion T, where scores are computed."""
    oracle: np.ndarray
    """(B, N, N) float32: the oracle fill mask given to the mask-based rows."""
    own: np.ndarray
    """(B, N, N) bool: the clean face's own occlusions (labelled hair) on its surface."""
    occluder: np.ndarray
    """(B, N, N) bool: the whole occluder (opacity > the protocol's T threshold), on the face surface or not."""
    tinted: np.ndarray
    """(B, N, N) bool: every pixel the occluder covers at more than the oracle mask's opacity (its soft edge
    included), on the face surface or not."""
    landmarks: np.ndarray
    """(B, 468, 2 or 3) float32: the clean faces' mesh points in crop pixels (the identity floors black out parts)."""
    dropped: int = 0
    """Protocol faces of this batch left out: their occluder missed the face surface, so
    they have no true occlusion to score."""

    def __len__(self) -> int:
        return len(self.indices)

    def occluded_tensor(self) -> torch.Tensor:
        return torch.from_numpy(self.occluded).permute(0, 3, 1, 2).float() / 255.0


def open_protocol(config: Table1Config) -> tuple[int, Iterator[EvalBatch]]:
    """(protocol faces to evaluate, their batches) for ``config``; checks the data first."""
    from deocclude.data import UTKFaceFaces
    from deocclude.paths import utkface_root

    root = utkface_root()
    if not (root / "landmarks.npz").is_file():
        raise DeoccludeError(f"the evaluation needs the UTKFace test split at {root} (set DEOCCLUDE_DATA)")
    faces = UTKFaceFaces(root=root, split="test", size=config.size)
    if len(faces) == 0:
        raise DeoccludeError(f"the UTKFace test split at {root} is empty")
    return min(config.limit, len(faces)), _batches(config, faces)


def _batches(config: Table1Config, faces) -> Iterator[EvalBatch]:  # noqa: ANN001 - UTKFaceFaces
    from deocclude.synth.protocols import iterate_protocol

    chunk: list = []
    # iterate over the whole split (limit applied by iterate_protocol): the mixed protocol
    # assigns categories over all 1,000 faces, so a limit must not reshuffle them.
    for sample in iterate_protocol(config.protocol, faces, seed=config.seed, limit=config.limit):
        chunk.append(sample)
        if len(chunk) == config.batch_size:
            yield _batch(chunk, config)
            chunk = []
    if chunk:
        yield _batch(chunk, config)


def _batch(samples: list, config: Table1Config) -> EvalBatch:
    kept, trues = [], []
    for s in samples:
        surface = s.item["mesh_mask"][0].numpy()
        true = true_occlusion(s.occlusion.alpha, surface, config.true_alpha)
        if not true.any():
            continue
        kept.append(s)
        trues.append(true)
    occluded = [np.clip(np.round(s.occlusion.image * 255.0), 0, 255).astype(np.uint8) for s in kept]
    n = config.size
    return EvalBatch(
        indices=[s.index for s in kept],
        names=[s.name for s in kept],
        categories=[s.occlusion.category for s in kept],
        clean=torch.stack([s.item["image"] for s in kept]) if kept else torch.zeros(0, 3, n, n),
        occluded=np.stack(occluded) if kept else np.zeros((0, n, n, 3), np.uint8),
        true=np.stack(trues) if kept else np.zeros((0, n, n), bool),
        oracle=np.stack([oracle_fill_mask(s.occlusion.alpha, s.item["mesh_mask"][0].numpy()) for s in kept])
        if kept else np.zeros((0, n, n), np.float32),
        own=np.stack([own_occlusion(s.item["face_mask"][0].numpy(), s.item["mesh_mask"][0].numpy()) for s in kept])
        if kept else np.zeros((0, n, n), bool),
        occluder=np.stack([s.occlusion.alpha > config.true_alpha for s in kept]) if kept else np.zeros((0, n, n), bool),
        tinted=np.stack([s.occlusion.alpha > ORACLE_THRESHOLD for s in kept]) if kept else np.zeros((0, n, n), bool),
        landmarks=np.stack([s.item["landmarks"].numpy().astype(np.float32) for s in kept])
        if kept else np.zeros((0, 468, 3), np.float32),
        dropped=len(samples) - len(kept),
    )

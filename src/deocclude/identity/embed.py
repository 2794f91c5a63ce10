"""Face embeddings of canonical crops, and the identity cosine used by L_id and the ID metric.

Our crops are framed by the canonical MediaPipe template; dlib's network wants its own
150×150 chip framing. :func:`crops_to_chips` resamples a batch of crops into dlib's frame
with one fixed similarity (:data:`deocclude.identity.chip.CANONICAL_UNIT_TO_CHIP`) using
``grid_sample``, so gradients reach every input pixel. Crops larger than the chip are first
area-filtered down (``antialias``) so that large crops do not alias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from deocclude.errors import DeoccludeError
from deocclude.face_batch import image_batch
from deocclude.identity.chip import CANONICAL_UNIT_TO_CHIP, CHIP_SIZE
from deocclude.identity.network import EMBEDDING_DIM, DlibFaceResNet
from deocclude.identity.weights import load_identity_network


@dataclass(frozen=True)
class ChipWarpConfig:
    """How canonical crops are resampled into dlib's chip.

    ``padding_mode``: the chip reaches about 5% beyond the canonical crop on every side;
    those pixels are filled by reflecting the crop (closest to the photo content dlib would
    see there; ``benchmarks/identity.py`` compares the modes).
    """

    chip_size: int = CHIP_SIZE
    padding_mode: str = "reflection"


def canonical_to_chip(size: int, chip_size: int = CHIP_SIZE) -> np.ndarray:
    """(2, 3) similarity from an N×N canonical crop to dlib's chip (continuous pixel coordinates)."""
    matrix = np.array(CANONICAL_UNIT_TO_CHIP, dtype=np.float64)
    matrix[:, :2] /= size
    return matrix * (chip_size / CHIP_SIZE)


def _theta(size: int, chip_size: int) -> np.ndarray:
    """``affine_grid`` matrix: normalised chip coordinates → normalised crop coordinates."""
    to_chip = np.vstack([canonical_to_chip(size, chip_size), [0.0, 0.0, 1.0]])
    to_crop = np.linalg.inv(to_chip)
    def unnormalise(n: int) -> np.ndarray:  # [-1, 1] → [0, n] (align_corners=False: pixel edges)
        return np.array([[n / 2, 0, n / 2], [0, n / 2, n / 2], [0, 0, 1.0]])
    return (np.linalg.inv(unnormalise(size)) @ to_crop @ unnormalise(chip_size))[:2]


def crops_to_chips(crops: torch.Tensor, config: ChipWarpConfig = ChipWarpConfig()) -> torch.Tensor:
    """Resample (B, 3, N, N) canonical crops (float, [0, 1]) to (B, 3, 150, 150) dlib chips, differentiably."""
    size = crops.shape[-1]
    natural = int(round(CANONICAL_UNIT_TO_CHIP[0][0] * config.chip_size / CHIP_SIZE))
    if size > natural:  # shrinking: low-pass first, the bilinear warp alone would alias
        crops = F.interpolate(crops, size=(natural, natural), mode="bilinear", align_corners=False, antialias=True)
        size = natural
    theta = torch.as_tensor(_theta(size, config.chip_size), dtype=crops.dtype, device=crops.device)
    grid = F.affine_grid(
        theta.expand(len(crops), 2, 3), [len(crops), 3, config.chip_size, config.chip_size], align_corners=False
    )
    return F.grid_sample(crops, grid, mode="bilinear", padding_mode=config.padding_mode, align_corners=False)


def as_crop_batch(faces: object, device: torch.device | str | None = None) -> torch.Tensor:
    """(B, 3, N, N) float in [0, 1] from what :func:`~deocclude.face_batch.image_batch` takes, or AlignedFaces."""
    if isinstance(faces, Sequence) and not isinstance(faces, (np.ndarray, torch.Tensor)):
        arrays = [getattr(face, "crop", face) for face in faces]
        if not arrays:
            raise DeoccludeError("face_embedding: no faces given")
        faces = np.stack([np.asarray(a) for a in arrays])
    elif not isinstance(faces, torch.Tensor):
        faces = np.asarray(getattr(faces, "crop", faces))
    batch, _ = image_batch(faces, "face_embedding")
    if batch.shape[2] != batch.shape[3]:
        raise DeoccludeError(f"face_embedding: expected square RGB crops (B, 3, N, N), got shape {tuple(batch.shape)}")
    return batch.to(device) if device is not None else batch


@lru_cache(maxsize=4)
def default_network(device: str = "cpu") -> DlibFaceResNet:
    """The shared, frozen network for this device (weights loaded once)."""
    return load_identity_network(device=device)


def face_embedding(
    aligned_faces: object,
    network: DlibFaceResNet | None = None,
    config: ChipWarpConfig = ChipWarpConfig(),
) -> torch.Tensor:
    """dlib-ResNet descriptors (B, 128) of canonical crops of any size N.

    Accepts a float tensor (B, 3, N, N) in [0, 1] (gradients flow back to it), uint8
    arrays, or :class:`~deocclude.faces.align.AlignedFace` objects. Runs on the tensor's
    device (or the network's, for arrays). Descriptors are not normalised (dlib's scale).
    """
    if network is None:
        device = aligned_faces.device if isinstance(aligned_faces, torch.Tensor) else torch.device("cpu")
        network = default_network(str(device))
    parameter = next(network.parameters())
    crops = as_crop_batch(aligned_faces, parameter.device).to(parameter.dtype)
    return network(crops_to_chips(crops, config))


def identity_cosine(a: object, b: object, network: DlibFaceResNet | None = None) -> torch.Tensor:
    """Cosine similarity (B,) between the identities of two batches of canonical crops.

    ``a`` and ``b`` are crops in any form :func:`face_embedding` accepts, or already
    computed (B, 128) descriptors. ``1 - identity_cosine(output, target)`` is the identity loss.
    """
    def embed(x: object) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.ndim == 2 and x.shape[1] == EMBEDDING_DIM:
            return x
        return face_embedding(x, network)

    ea, eb = embed(a), embed(b)
    if ea.shape != eb.shape:
        raise DeoccludeError(f"identity_cosine: batch shapes differ ({tuple(ea.shape)} vs {tuple(eb.shape)})")
    return F.cosine_similarity(ea, eb.to(ea.device), dim=1)

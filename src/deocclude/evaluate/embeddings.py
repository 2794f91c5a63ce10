"""Identity embeddings for the downstream evaluations (LFW verification, Figure-9 privacy).

Both networks every identity row is reported with, behind one batched ``Embedder``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deocclude.errors import DeoccludeError

if TYPE_CHECKING:
    from deocclude.identity.arcface import ArcFaceMobile
    from deocclude.identity.network import DlibFaceResNet

IDENTITY_NETWORKS = ("dlib", "arcface")
"""Every identity row is reported with both: dlib-ResNet (128-D; any two faces score ≈ 0.85) and
the ArcFace-class MobileFaceNet (512-D, unrelated faces ≈ 0: deocclude/identity/arcface.py)."""

NETWORK_TITLES = {"dlib": "dlib-ResNet (128-D)", "arcface": "ArcFace-class MobileFaceNet (512-D, faceplugin)"}
"""The section heading of each network's table in the reports."""


def network_key(key: str, network: str) -> str:
    """The report key of ``key`` for ``network``: ``results`` → ``results`` (dlib), ``results_arcface``.

    dlib keeps the un-suffixed keys because reports were dlib-only before ArcFace was added:
    old JSON stays readable and readers of the old keys keep getting the same numbers.
    """
    return key if network == "dlib" else f"{key}_{network}"


class Embedder:
    """Identity embeddings of uint8 canonical crops, in batches, on one device.

    ``network``: ``dlib`` (the whole-crop dlib-ResNet chip) or ``arcface`` (the 5-point
    112 × 112 chip from the canonical landmarks: deocclude/identity/arcface_align.py).
    """

    def __init__(self, device: str = "auto", batch_size: int = 64, network: str = "dlib") -> None:
        from deocclude.device import resolve_device

        if network not in IDENTITY_NETWORKS:
            raise DeoccludeError(f"unknown identity network {network!r} (use {' or '.join(IDENTITY_NETWORKS)})")
        self.device = resolve_device(device)
        self.batch_size, self.name = batch_size, network
        self.network: DlibFaceResNet | ArcFaceMobile
        if network == "dlib":
            from deocclude.identity.weights import load_identity_network

            self.network = load_identity_network(device=self.device)
        else:
            from deocclude.identity.arcface import load_arcface

            self.network = load_arcface(device=self.device)

    def _embed(self, crops: np.ndarray):  # noqa: ANN202 - a (B, D) tensor
        if self.name == "dlib":
            from deocclude.identity.embed import face_embedding
            from deocclude.identity.network import DlibFaceResNet

            assert isinstance(self.network, DlibFaceResNet)  # what __init__ loads for "dlib"
            return face_embedding(np.ascontiguousarray(crops), self.network)
        from deocclude.face_batch import images_to_tensor
        from deocclude.identity.arcface import ArcFaceMobile
        from deocclude.identity.arcface_align import arcface_embedding

        assert isinstance(self.network, ArcFaceMobile)  # what __init__ loads for "arcface"
        return arcface_embedding(images_to_tensor(crops).to(self.device), network=self.network)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(crops), self.batch_size):
                out.append(self._embed(crops[i:i + self.batch_size]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 128 if self.name == "dlib" else 512), np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (B, D) arrays."""
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)

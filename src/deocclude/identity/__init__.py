"""Identity embedding: dlib's face-recognition ResNet (128-D) in PyTorch, for L_per, L_id and the ID metric.

    from deocclude.identity import face_embedding, identity_cosine
    emb = face_embedding(crops)              # (B, 3, N, N) float in [0, 1], uint8 arrays or AlignedFaces
    loss = 1 - identity_cosine(output, target)   # differentiable w.r.t. the crops

Canonical crops are resampled into dlib's 150×150 chip framing by one fixed similarity
(:mod:`deocclude.identity.chip`); the weights are the bundled fp16 conversion of dlib's
``dlib_face_recognition_resnet_model_v1.dat`` (:mod:`deocclude.identity.weights`). Call it
the "dlib-ResNet ID cosine", not ArcFace.
"""

from deocclude.identity.embed import ChipWarpConfig, crops_to_chips, face_embedding, identity_cosine
from deocclude.identity.network import EMBEDDING_DIM, INPUT_SIZE, DlibFaceResNet
from deocclude.identity.weights import load_identity_network

__all__ = [
    "EMBEDDING_DIM", "INPUT_SIZE", "ChipWarpConfig", "DlibFaceResNet",
    "crops_to_chips", "face_embedding", "identity_cosine", "load_identity_network",
]

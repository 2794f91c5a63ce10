"""Identity embedding: dlib's face-recognition ResNet (128-D) in PyTorch, for L_per, L_id and the ID metric.

    from deocclude.identity import face_embedding, identity_cosine
    emb = face_embedding(crops)              # (B, 3, N, N) float in [0, 1], uint8 arrays or AlignedFaces
    loss = 1 - identity_cosine(output, target)   # differentiable w.r.t. the crops

Canonical crops are resampled into dlib's 150×150 chip framing by one fixed similarity
(:mod:`deocclude.identity.chip`); the weights are the bundled fp16 conversion of dlib's
``dlib_face_recognition_resnet_model_v1.dat`` (:mod:`deocclude.identity.weights`). Call it
the "dlib-ResNet ID cosine", not ArcFace.

The second network, ArcFace-class (faceplugin ``fr_feature``, 512-D; unrelated faces at
cosine ≈ 0 instead of ≈ 0.85), takes the crop through the 5-point ArcFace alignment:

    from deocclude.identity import arcface_cosine
    cos = arcface_cosine(output, target, landmarks_a, landmarks_b)   # landmarks optional
"""

from deocclude.identity.arcface import ARCFACE_DIM, ArcFaceMobile, load_arcface
from deocclude.identity.arcface_align import arcface_chips, arcface_cosine, arcface_embedding
from deocclude.identity.embed import ChipWarpConfig, crops_to_chips, face_embedding, identity_cosine
from deocclude.identity.network import EMBEDDING_DIM, INPUT_SIZE, DlibFaceResNet
from deocclude.identity.weights import load_identity_network

__all__ = [
    "ARCFACE_DIM", "ArcFaceMobile", "arcface_chips", "arcface_cosine", "arcface_embedding", "load_arcface",
    "EMBEDDING_DIM", "INPUT_SIZE", "ChipWarpConfig", "DlibFaceResNet",
    "crops_to_chips", "face_embedding", "identity_cosine", "load_identity_network",
]

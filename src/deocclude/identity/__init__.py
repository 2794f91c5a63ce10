"""Identity embedding: dlib's face-recognition ResNet (128-D) in PyTorch, for L_per, L_id and the ID metric."""

from deocclude.identity.network import EMBEDDING_DIM, INPUT_SIZE, DlibFaceResNet
from deocclude.identity.weights import load_identity_network

__all__ = ["EMBEDDING_DIM", "INPUT_SIZE", "DlibFaceResNet", "load_identity_network"]

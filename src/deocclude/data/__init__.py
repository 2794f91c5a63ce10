"""Datasets: the shared UTKFace faces (aligned, cached) and a data loader helper."""

from deocclude.data.loader import make_loader
from deocclude.data.utkface import UTKFaceFaces

__all__ = ["UTKFaceFaces", "make_loader"]

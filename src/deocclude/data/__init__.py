"""Datasets: the shared UTKFace faces and users' photo folders (aligned, cached), and a loader."""

from deocclude.data.folder import FaceFolder
from deocclude.data.loader import make_loader
from deocclude.data.utkface import UTKFaceFaces

__all__ = ["FaceFolder", "UTKFaceFaces", "make_loader"]

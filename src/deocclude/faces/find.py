"""Photo → aligned face crops: detect → 468 landmarks → align, the one place it is written.

Every caller that turns a photo into canonical crops (the pipeline, ``deocclude segment``
and ``deocclude reconstruct`` on photos, the dataset of users' photos, the benchmarks) goes
through :class:`FaceFinder`, so the rules live here once: faces whose mesh MediaPipe calls
absent are dropped, and "the largest face" means the largest detection box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from deocclude.errors import NoFaceError
from deocclude.faces.align import AlignedFace, align_face
from deocclude.faces.detect import FaceDetection, FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.timing import timed


@dataclass(frozen=True)
class FoundFace:
    """One face of a photo: its detection, its 468 mesh points (photo px, (468, 3)) and its crop."""

    detection: FaceDetection | None
    """The detection the mesh was run from (None only for a mesh given without one)."""
    landmarks: np.ndarray
    aligned: AlignedFace


def largest(detections: list[FaceDetection]) -> list[FaceDetection]:
    """The detection with the largest box (an empty list stays empty)."""
    return [max(detections, key=lambda d: float(d.width) * float(d.height))] if detections else []


class FaceFinder:
    """``FaceFinder(size)(photo) -> [FoundFace]``: every face of an RGB uint8 photo, aligned to size × size.

    ``largest_only`` keeps the largest detection (datasets of portraits, ``--only-largest-face``);
    ``min_score`` None keeps MediaPipe's per-model thresholds (:class:`FaceDetector`).
    The detector and mesh are public so that callers that time them separately can reuse them.
    """

    def __init__(self, size: int = 128, detector: Literal["auto", "short", "full"] = "auto",
                 min_score: float | None = None, largest_only: bool = False) -> None:
        self.size, self.largest_only = size, largest_only
        self.detector = FaceDetector(model=detector, min_score=min_score)
        self.mesh = FaceMesh()

    def __call__(self, photo: np.ndarray, timings: dict[str, float] | None = None) -> list[FoundFace]:
        """Stage times go into ``timings`` as ``detect``, ``landmarks`` and ``align``."""
        with timed(timings, "detect"):
            detections = self.detector(photo)
        if self.largest_only:
            detections = largest(detections)
        with timed(timings, "landmarks"):
            meshes = [m for m in self.mesh(photo, detections) if m.present]
        found = []
        for mesh in meshes:
            with timed(timings, "align"):
                found.append(FoundFace(mesh.detection, mesh.points, align_face(photo, mesh.points, self.size)))
        return found

    def largest_face(self, photo: np.ndarray) -> FoundFace:
        """The largest face, or :class:`NoFaceError` saying whether detection or the mesh failed."""
        detections = largest(self.detector(photo))
        if not detections:
            raise NoFaceError("no face found")
        meshes = self.mesh(photo, detections)
        if not meshes or not meshes[0].present:
            raise NoFaceError("no face mesh found")
        return FoundFace(meshes[0].detection, meshes[0].points, align_face(photo, meshes[0].points, self.size))

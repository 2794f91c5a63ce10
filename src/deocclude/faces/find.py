"""Photo → aligned face crops: detect → 468 landmarks → align, the one place it is written.

Every caller that turns a photo into canonical crops (the pipeline, ``deocclude segment``
and ``deocclude reconstruct`` on photos, the dataset of users' photos, the benchmarks) goes
through :class:`FaceFinder`, so the rules live here once: faces whose mesh MediaPipe calls
absent are dropped (unless a ``refit`` vouches for them: masked faces, :mod:`deocclude.faces.refit`),
and "the largest face" means the largest detection box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from deocclude.errors import NoFaceError
from deocclude.faces.align import AlignedFace, align_face
from deocclude.faces.detect import DetectorConfig, FaceDetection, FaceDetector
from deocclude.faces.refit import points_box
from deocclude.faces.rescue import overlaps
from deocclude.timing import timed

if TYPE_CHECKING:
    from deocclude.faces.refit import Refit

LandmarkRefit = Callable[[np.ndarray, FaceDetection], "Refit | None"]
"""(photo, detection the mesh refused) -> a :class:`~deocclude.faces.refit.Refit` or None (not tried)."""


@dataclass(frozen=True)
class FoundFace:
    """One face of a photo: its detection, its 468 mesh points (photo px, (468, 3)) and its crop."""

    detection: FaceDetection | None
    """The detection the mesh was run from (None only for a mesh given without one)."""
    landmarks: np.ndarray
    aligned: AlignedFace
    landmarks_from: str = "mesh"
    """``mesh`` (MediaPipe's 468 points) or ``R refit`` (the mesh refused a masked face: faces/refit.py)."""


def largest(detections: list[FaceDetection]) -> list[FaceDetection]:
    """The detection with the largest box (an empty list stays empty)."""
    return [max(detections, key=lambda d: float(d.width) * float(d.height))] if detections else []


class FaceFinder:
    """``FaceFinder(size)(photo) -> [FoundFace]``: every face of an RGB uint8 photo, aligned to size × size.

    ``largest_only`` keeps the largest detection (datasets of portraits, ``--only-largest-face``);
    ``min_score`` None keeps MediaPipe's per-model thresholds (:class:`FaceDetector`); ``detector_config``
    the detector's other settings (default :class:`DetectorConfig`, the rescue on).
    ``refit``: asked about each detection whose mesh is absent (and that no found face covers); its
    kept fits are faces too (``landmarks_from="R refit"``). The pipeline passes R and S's
    :class:`~deocclude.faces.refit.MaskedFaceRefit`; None = mesh faces only.
    The detector and mesh are public so that callers that time them separately can reuse them.
    """

    def __init__(self, size: int = 128, detector: Literal["auto", "short", "full"] = "auto",
                 min_score: float | None = None, largest_only: bool = False, refit: LandmarkRefit | None = None,
                 detector_config: DetectorConfig | None = None) -> None:
        self.size, self.largest_only, self.refit = size, largest_only, refit
        self.detector = FaceDetector(model=detector, min_score=min_score, config=detector_config or DetectorConfig())
        self.mesh = self.detector.mesh  # one mesh: the rescue's look at the found faces is not repeated

    def __call__(self, photo: np.ndarray, timings: dict[str, float] | None = None) -> list[FoundFace]:
        """Stage times go into ``timings`` as ``detect``, ``landmarks``, ``align`` and (with a refit) ``refit``."""
        with timed(timings, "detect"):
            detections = self.detector(photo)
        if self.largest_only:
            detections = largest(detections)
        with timed(timings, "landmarks"):
            all_meshes = self.mesh(photo, detections)
        meshes = [m for m in all_meshes if m.present]
        found = []
        for mesh in meshes:
            with timed(timings, "align"):
                found.append(FoundFace(mesh.detection, mesh.points, align_face(photo, mesh.points, self.size)))
        if self.refit is not None:
            with timed(timings, "refit"):
                refused = [m.detection for m in all_meshes if not m.present and m.detection is not None]
                taken = [f.detection.box for f in found if f.detection is not None]
                found += [FoundFace(d, fit.points, fit.aligned, "R refit")
                          for d, fit in refitted(photo, refused, taken, self.refit)]
        return found

    def largest_face(self, photo: np.ndarray) -> FoundFace:
        """The largest face, or :class:`NoFaceError` saying whether detection or the mesh failed (no refit:
        datasets of portraits want the mesh's landmarks)."""
        detections = largest(self.detector(photo))
        if not detections:
            raise NoFaceError("no face found")
        meshes = self.mesh(photo, detections)
        if not meshes or not meshes[0].present:
            raise NoFaceError("no face mesh found")
        return FoundFace(meshes[0].detection, meshes[0].points, align_face(photo, meshes[0].points, self.size))


def refitted(photo: np.ndarray, refused: list[FaceDetection], taken: list[np.ndarray], refit: LandmarkRefit
             ) -> list[tuple[FaceDetection, Refit]]:
    """The kept refits among detections the mesh refused (best score first), none on a face already
    found (``taken`` boxes) or on an earlier refit (overlap as the rescue's: IoU > 0.3 or the centre inside)."""
    taken = list(taken)
    kept: list[tuple[FaceDetection, Refit]] = []
    for detection in refused:
        if overlaps(detection.box.astype(np.float64), taken):
            continue
        fit = refit(photo, detection)
        if fit is not None and fit.kept and not overlaps(points_box(fit.points), taken):
            kept.append((detection, fit))
            taken.append(points_box(fit.points))
    return kept

"""Landmarks for arbitrary photos through the package's own faces path (detect -> mesh).

Kept in one place so the dataset of users' photos and the CLI preview share the same
"largest face" rule and the same clear error when a photo holds no face.
"""

from __future__ import annotations

import numpy as np

from deocclude.errors import NoFaceError


class PhotoLandmarker:
    """468 landmarks (image px) of the largest face in an RGB uint8 photo."""

    def __init__(self) -> None:
        from deocclude.faces.detect import FaceDetector
        from deocclude.faces.landmarks import FaceMesh

        self.detector = FaceDetector()
        self.mesh = FaceMesh()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        dets = self.detector(image)
        if not dets:
            raise NoFaceError("no face found")
        det = max(dets, key=lambda d: float(d.width) * float(d.height))
        marks = self.mesh(image, [det])
        if not marks or not marks[0].present:
            raise NoFaceError("no face mesh found")
        return np.asarray(marks[0].points, dtype=np.float32)

"""Landmarks for arbitrary photos through the package's own faces path (detect -> mesh).

Kept in one place so the dataset of users' photos and the CLI preview share the same
"largest face" rule and the same clear error when the faces path is missing.
"""

from __future__ import annotations

import numpy as np

from deocclude.errors import DeoccludeError, NoFaceError


def faces_path_available() -> bool:
    try:
        import deocclude.faces.detect  # noqa: F401
        import deocclude.faces.landmarks  # noqa: F401
    except ImportError:
        return False
    return True


class PhotoLandmarker:
    """468 landmarks (image px) of the largest face in an RGB uint8 photo."""

    def __init__(self) -> None:
        try:
            from deocclude.faces.detect import FaceDetector
            from deocclude.faces.landmarks import FaceMesh
        except ImportError as exc:
            raise DeoccludeError("the face detector / landmark model is not available in this installation "
                                 f"({exc}); use the shared data folder (DEOCCLUDE_DATA) instead") from exc
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

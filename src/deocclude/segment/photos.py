"""S on whole photos: detect → 468 landmarks → align → S, and the masks warped back.

Used by ``deocclude segment`` (without ``--aligned``) and by the wild-photo grids. The
visible-face probability of every face is warped back into the photo; where faces
overlap, the larger probability wins. The face surface M_R (the mesh) comes along so the
occlusion mask M_O = M_R ⊙ (1 − M_F) can be shown too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from deocclude.faces.align import AlignedFace, invert_affine, to_opencv
from deocclude.faces.find import FaceFinder
from deocclude.faces.mesh import mesh_mask
from deocclude.segment.inference import Segmenter


@dataclass
class PhotoMasks:
    """Photo-sized float32 maps (H, W) and the per-face crops."""

    visible: np.ndarray  # M_F probability, 0 outside every face crop
    surface: np.ndarray  # M_R: the mesh surface of every face
    faces: list[tuple[AlignedFace, np.ndarray]] = field(default_factory=list)  # (aligned crop, its M_F)

    @property
    def occlusion(self) -> np.ndarray:
        """M_O = M_R ⊙ (1 − M_F ≥ 0.5)."""
        return self.surface * (self.visible < 0.5)


def _to_photo(crop_map: np.ndarray, aligned: AlignedFace, height: int, width: int) -> np.ndarray:
    back = to_opencv(invert_affine(aligned.matrix))
    return cv2.warpAffine(
        crop_map.astype(np.float32),
        back,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def segment_photo(photo: np.ndarray, segmenter: Segmenter, finder: FaceFinder | None = None) -> PhotoMasks:
    """Visible-face masks of every face found in an RGB uint8 photo (no face → empty masks).

    ``finder`` (default ``FaceFinder(128)``) sets the crop size; pass one to reuse it over photos.
    """
    finder = finder or FaceFinder()
    h, w = photo.shape[:2]
    out = PhotoMasks(np.zeros((h, w), np.float32), np.zeros((h, w), np.float32))
    for face in finder(photo):
        prob = np.asarray(segmenter(face.aligned.crop))
        out.faces.append((face.aligned, prob))
        out.visible = np.maximum(out.visible, _to_photo(prob, face.aligned, h, w))
        out.surface = np.maximum(out.surface, mesh_mask(face.landmarks, h, w))
    return out

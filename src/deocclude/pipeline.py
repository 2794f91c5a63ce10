"""The ``Deoccluder`` API: a photo in, the same photo out with the occlusions removed.

Per face: detect → 468 landmarks → align to an N×N crop → S gives the visible face M_F,
the face surface M_R says where the face should be → occlusion mask
M_O = M_R ⊙ (1 − M_F) → fill M_O → paste the filled crop back into the photo.

Which parts run depends on what is installed: without S's weights only the faces path
runs (crops, landmarks, lossless paste back) and every face says so in its ``status``.
Until R and G land, M_R is the surface of the detected 468-point mesh and the fill is
OpenCV Telea (``method`` tells which ran). Faces are processed independently: a face that
fails keeps the original pixels and reports why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.faces.align import AlignedFace, align_face
from deocclude.faces.detect import FaceDetection, FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.faces.mesh import mesh_mask
from deocclude.faces.paste_back import PasteConfig, paste_back
from deocclude.inpaint.classical import classical_inpaint


@dataclass(frozen=True)
class DeoccluderConfig:
    """Everything a run can be configured with; the CLI maps its flags onto these fields."""

    size: int = 128
    """Side of the aligned face crop the networks see (128 on CPU; 256 works unchanged)."""
    detector: Literal["auto", "short", "full"] = "auto"
    """BlazeFace model: short range (large faces), full range (small faces), or both as needed."""
    min_face_score: float = 0.5
    only_largest_face: bool = False
    mask_threshold: float = 0.5
    """Visible-face probability below which a face-surface pixel counts as occluded."""
    dilate: int = 2
    """Grow the occlusion mask by this many crop pixels so occluder edges are removed too."""
    fill: Literal["auto", "telea", "navier-stokes"] = "auto"
    device: str = "auto"
    paste: PasteConfig = PasteConfig()

    def __post_init__(self) -> None:
        if self.size % 32 or self.size < 64:
            raise DeoccludeError(f"--size must be a multiple of 32 and at least 64, got {self.size}")
        if not 0.0 < self.mask_threshold < 1.0:
            raise DeoccludeError(f"--mask-threshold must lie in (0, 1), got {self.mask_threshold}")
        if self.dilate < 0:
            raise DeoccludeError(f"--dilate must be >= 0, got {self.dilate}")


@dataclass
class FaceResult:
    """One face: the crop the networks saw, every mask, the restored crop, and timings.

    Masks are N×N float32: ``face_mask`` M_F and ``face_region`` M_R have 1 = face;
    ``occlusion_mask`` M_O has 1 = occluded (replaced).
    """

    index: int
    detection: FaceDetection
    landmarks: np.ndarray
    aligned: AlignedFace
    face_region: np.ndarray
    face_mask: np.ndarray | None = None
    occlusion_mask: np.ndarray | None = None
    render: np.ndarray | None = None
    coefficients: np.ndarray | None = None
    restored: np.ndarray | None = None
    method: str = "faces path only"
    status: str = "ok"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def occluded_fraction(self) -> float:
        """Share of the face surface that was found occluded (0 when nothing was estimated)."""
        if self.occlusion_mask is None:
            return 0.0
        return float(self.occlusion_mask.sum() / max(self.face_region.sum(), 1.0))


@dataclass
class Result:
    photo: np.ndarray
    """The output photo (RGB uint8, same size as the input)."""
    faces: list[FaceResult]
    timings: dict[str, float] = field(default_factory=dict)


class _Timer:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.start


class Deoccluder:
    """Remove occlusions from every face of a photo: ``Deoccluder().run(photo) -> Result``."""

    def __init__(self, config: DeoccluderConfig = DeoccluderConfig()) -> None:
        self.config = config
        self.detector = FaceDetector(model=config.detector, min_score=config.min_face_score)
        self.mesh = FaceMesh()
        self._segmenter = _load_segmenter(config.device)

    @property
    def can_remove_occlusions(self) -> bool:
        return self._segmenter is not None

    def run(self, photo: np.ndarray) -> Result:
        timings: dict[str, float] = {}
        with _Timer(timings, "detect"):
            detections = self.detector(photo)
        if self.config.only_largest_face and detections:
            detections = [max(detections, key=lambda d: d.width * d.height)]
        with _Timer(timings, "landmarks"):
            meshes = [m for m in self.mesh(photo, detections) if m.present]
        faces: list[FaceResult] = []
        output = photo
        for index, mesh in enumerate(meshes):
            face = self._process_face(photo, index, mesh.detection, mesh.points)
            faces.append(face)
            if face.restored is not None and face.occlusion_mask is not None and face.status == "ok":
                with _Timer(face.timings, "paste"):
                    output = paste_back(output, face.aligned, face.restored, face.occlusion_mask, self.config.paste)
        for face in faces:
            for name, seconds in face.timings.items():
                timings[name] = timings.get(name, 0.0) + seconds
        return Result(photo=output if output is not photo else photo.copy(), faces=faces, timings=timings)

    def _process_face(self, photo: np.ndarray, index: int, detection: FaceDetection, landmarks: np.ndarray) -> FaceResult:
        face_timings: dict[str, float] = {}
        with _Timer(face_timings, "align"):
            aligned = align_face(photo, landmarks, self.config.size)
            region = mesh_mask(aligned.landmarks, self.config.size, self.config.size)
        face = FaceResult(index=index, detection=detection, landmarks=landmarks, aligned=aligned, face_region=region,
                          restored=aligned.crop, timings=face_timings)
        if self._segmenter is None:
            face.status = "ok"
            return face
        try:
            with _Timer(face_timings, "segment"):
                face.face_mask = self._segmenter(aligned.crop)
            face.occlusion_mask = self._occlusion_mask(region, face.face_mask, aligned.valid)
            with _Timer(face_timings, "fill"):
                method = "telea" if self.config.fill == "auto" else self.config.fill
                face.restored = classical_inpaint(aligned.crop, face.occlusion_mask, method)
            face.method = f"S + mesh surface + OpenCV {method}"
        except Exception as exc:  # one face failing must not lose the others
            face.status = f"failed: {type(exc).__name__}: {exc}"
            face.restored = aligned.crop
        return face

    def _occlusion_mask(self, region: np.ndarray, visible: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """M_O = M_R ⊙ (1 − M_F), opened, grown by ``dilate`` px, never outside the real photo.

        The 3×3 opening removes the one-pixel rim where S and the face surface disagree along
        the face outline (val: M_O IoU 0.802 → 0.814); the dilation then makes sure the edges
        of real occluders are replaced too.
        """
        occluded = (region > 0.5) & (visible < self.config.mask_threshold)
        mask = cv2.morphologyEx(occluded.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if self.config.dilate and mask.any():
            k = 2 * self.config.dilate + 1
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        return mask.astype(np.float32) * (valid > 0.5)


def _load_segmenter(device: str):  # noqa: ANN202 - returns a callable or None
    """S's inference function, or None when the segment module or its weights are missing."""
    try:
        from deocclude.segment.inference import Segmenter
    except ImportError:
        return None
    try:
        return Segmenter(device=device)
    except FileNotFoundError:
        return None

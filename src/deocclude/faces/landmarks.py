"""The 468-point face mesh: MediaPipe's ``face_landmark.tflite`` on a rotated face ROI.

Follows MediaPipe's ``face_landmark_front_cpu`` graph (mediapipe 0.10, static-image mode):
the detection box becomes a square region rotated so that the detector's eye keypoints
lie on a horizontal line, enlarged ×1.5 around the box centre (``DetectionsToRects`` +
``RectTransformation``); that region is sampled into the 192² input with replicated
borders and values in [0, 1] (``ImageToTensor``); the 468 (x, y, z) outputs are mapped back
into the photo (``LandmarkProjection``), z scaled like x. Faces are processed one after
another with one interpreter (the model has batch size 1; a loop costs nothing extra).

Optionally (``refine_passes``) the region is re-derived from the first landmarks, as
MediaPipe's video tracking does (eye corners 33 and 263 give the angle, the landmarks' box
the size), and the model runs again. ``benchmarks/faces_parity.py`` measures whether that
helps against MediaPipe's own static-image output.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import cv2
import numpy as np

from deocclude.faces.detect import FaceDetection, check_image
from deocclude.faces.tflite import TfliteModel
from deocclude.faces.warp import RotatedSquare, apply_affine, warp_to_tensor

NUM_LANDMARKS = 468
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # mesh points MediaPipe's tracking uses for the angle
# mesh points of the 6 detector keypoints (right/left from the person's view, as BlazeFace's)
RIGHT_EYE = (33, 133, 159, 145)
LEFT_EYE = (263, 362, 386, 374)
NOSE_TIP = 1
MOUTH = (13, 14)
RIGHT_TRAGION, LEFT_TRAGION = 234, 454
LANDMARK_MODEL = "face_landmark.tflite"
PRESENT = 0.5
"""Presence from which MediaPipe keeps a face (and so do we: :attr:`FaceLandmarks.present`)."""


@dataclass(frozen=True, eq=False)
class FaceLandmarks:
    """468 face-mesh points of one face in original-image pixels.

    ``points`` (468, 3) float32: x, y as MediaPipe reports them (normalised × image size,
    the numbers in the shared ``landmarks.npz``), z = relative depth in the same pixel
    scale as x, smaller = closer to the camera. ``presence`` is the model's face-presence
    probability; MediaPipe drops faces below :data:`PRESENT` (:attr:`present`). ``roi`` is the region
    the model saw.
    """

    points: np.ndarray
    presence: float
    roi: RotatedSquare
    detection: FaceDetection | None = None

    @property
    def present(self) -> bool:
        return self.presence >= PRESENT


@dataclass(frozen=True)
class MeshConfig:
    """``scale`` of the ROI around the box (MediaPipe 1.5), ``border`` for pixels outside the
    photo (MediaPipe's default BORDER_REPLICATE), ``refine_passes`` extra passes with the ROI
    from the previous landmarks, ``antialias_below`` see :func:`warp_to_tensor`."""

    scale: float = 1.5
    border: int = cv2.BORDER_REPLICATE
    refine_passes: int = 0
    antialias_below: float = 0.5
    num_threads: int = 1


def _angle(start: np.ndarray, end: np.ndarray) -> float:
    """Rotation that brings the start→end vector to horizontal (target angle 0), in (-π, π]."""
    angle = -math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0]))
    return math.atan2(math.sin(angle), math.cos(angle))


def roi_from_detection(detection: FaceDetection, scale: float = 1.5) -> RotatedSquare:
    """MediaPipe's face ROI: box centre, long side × scale, rotated by the eye line (kp 0 → 1)."""
    side = max(detection.width, detection.height) * scale
    cx, cy = (detection.x0 + detection.x1) / 2.0, (detection.y0 + detection.y1) / 2.0
    return RotatedSquare(cx, cy, side, _angle(detection.keypoints[0], detection.keypoints[1]))


def roi_from_landmarks(points: np.ndarray, scale: float = 1.5) -> RotatedSquare:
    """MediaPipe's tracking ROI: the landmarks' bounding box, rotated by the outer eye corners."""
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    side = float(max(hi - lo)) * scale
    centre = (lo + hi) / 2.0
    return RotatedSquare(float(centre[0]), float(centre[1]), side,
                         _angle(points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER]))


@dataclass
class FaceMesh:
    """468 landmarks for each detection: ``FaceMesh()(image, detections) -> list[FaceLandmarks]``.

    The result has one entry per detection, in the same order; check ``.present``. The landmarks of the
    last image's detections are remembered (the image by weak reference, the detections by identity): the
    detector's rescue meshes the faces it found to decide whether to look further, and
    :class:`~deocclude.faces.find.FaceFinder` then asks this same mesh about the same detections.
    """

    config: MeshConfig = field(default_factory=MeshConfig)
    _model: TfliteModel | None = field(default=None, init=False, repr=False)
    _last: tuple[weakref.ref, dict[int, FaceLandmarks]] | None = field(default=None, init=False, repr=False)

    @property
    def model(self) -> TfliteModel:
        if self._model is None:
            self._model = TfliteModel(LANDMARK_MODEL, num_threads=self.config.num_threads)
        return self._model

    def run_roi(self, image: np.ndarray, roi: RotatedSquare) -> tuple[np.ndarray, float]:
        """The model on one region: (468, 3) image-pixel points and the presence probability."""
        size = self.model.input_size
        pixels = warp_to_tensor(image, roi.to_tensor_matrix(size), size, self.config.border,
                                self.config.antialias_below)
        outputs = self.model(pixels.astype(np.float32) * (1.0 / 255.0))
        raw = next(o for o in outputs if o.size == NUM_LANDMARKS * 3).reshape(NUM_LANDMARKS, 3).astype(np.float64)
        logit = float(next(o for o in outputs if o.size == 1).reshape(()))
        points = np.empty((NUM_LANDMARKS, 3), dtype=np.float32)
        points[:, :2] = apply_affine(roi.from_tensor_matrix(size), raw[:, :2])
        points[:, 2] = raw[:, 2] * (roi.side / size)
        return points, 1.0 / (1.0 + math.exp(-max(min(logit, 80.0), -80.0)))

    def __call__(self, image: np.ndarray, detections: list[FaceDetection]) -> list[FaceLandmarks]:
        check_image(image)
        if self._last is None or self._last[0]() is not image:
            self._last = (weakref.ref(image), {})
        known = self._last[1]
        results = []
        for det in detections:
            if id(det) in known and known[id(det)].detection is det:
                results.append(known[id(det)])
                continue
            roi = roi_from_detection(det, self.config.scale)
            points, presence = self.run_roi(image, roi)
            for _ in range(self.config.refine_passes):
                roi = roi_from_landmarks(points, self.config.scale)
                points, presence = self.run_roi(image, roi)
            known[id(det)] = FaceLandmarks(points, presence, roi, det)
            results.append(known[id(det)])
        return results

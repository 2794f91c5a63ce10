"""Cropping a (rotated) square region of an image into a model's input tensor.

MediaPipe's ``ImageToTensorCalculator`` (OpenCV path) maps the four corners of a rotated
rectangle onto the corners ``(0, 0)…(size, size)`` of the tensor and samples bilinearly on
the ``uint8`` image; we do the same with an affine matrix, so the numbers match MediaPipe.
Unlike MediaPipe we first area-downsample when the region is shrunk by more than
``antialias_below`` (a face ROI of 1500 px sampled bilinearly at 192 px aliases badly); at
MediaPipe's usual scales (UTKFace, webcam frames) this path is not taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RotatedSquare:
    """A square region of an image: centre and side in pixels, rotation in radians.

    Pixel coordinates are those MediaPipe reports (normalised coordinate × image size). A
    positive rotation turns the square clockwise on screen (image y points down).
    """

    cx: float
    cy: float
    side: float
    rotation: float = 0.0

    def to_tensor_matrix(self, size: int) -> np.ndarray:
        """(2, 3) affine matrix from image pixels to tensor pixels of a ``size``² tensor."""
        k = size / self.side
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        a = np.array([[c, s], [-s, c]]) * k  # rotate by -rotation, then scale
        t = np.array([size / 2.0, size / 2.0]) - a @ np.array([self.cx, self.cy])
        return np.hstack([a, t[:, None]])

    def from_tensor_matrix(self, size: int) -> np.ndarray:
        """(2, 3) affine matrix from tensor pixels back to image pixels."""
        return cv2.invertAffineTransform(self.to_tensor_matrix(size))


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``matrix`` (2, 3) applied to (..., 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_to_tensor(
    image: np.ndarray,
    matrix: np.ndarray,
    size: int,
    border: int = cv2.BORDER_CONSTANT,
    antialias_below: float = 0.5,
) -> np.ndarray:
    """Sample ``image`` (uint8 H×W×C) into a ``size``² uint8 tensor with ``matrix`` (image→tensor).

    ``border`` is ``cv2.BORDER_CONSTANT`` (zeros, MediaPipe's BORDER_ZERO) or
    ``cv2.BORDER_REPLICATE``. When the matrix shrinks by more than ``antialias_below``, the
    covered part of the image is first reduced with ``INTER_AREA`` to the tensor's scale.
    """
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < antialias_below:
        image, matrix = _area_reduce(image, matrix, size, scale)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def _area_reduce(image: np.ndarray, matrix: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Crop the region the tensor covers (plus a margin), area-resize it to the tensor's scale.

    Returns the reduced image and the matrix from it to the tensor. The crop stops at the
    image border, so border handling in the final warp is unchanged.
    """
    h, w = image.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = apply_affine(inverse, np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    margin = 2.0 / scale
    x0 = int(max(0, math.floor(corners[:, 0].min() - margin)))
    y0 = int(max(0, math.floor(corners[:, 1].min() - margin)))
    x1 = int(min(w, math.ceil(corners[:, 0].max() + margin)))
    y1 = int(min(h, math.ceil(corners[:, 1].max() + margin)))
    if x1 - x0 < 2 or y1 - y0 < 2:  # region (almost) entirely outside the image
        return image, matrix
    crop = image[y0:y1, x0:x1]
    new_w = max(1, round((x1 - x0) * scale))
    new_h = max(1, round((y1 - y0) * scale))
    reduced = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
    sx, sy = new_w / (x1 - x0), new_h / (y1 - y0)
    # reduced pixel p' = (p - origin + 0.5) * s - 0.5 (OpenCV's pixel-centre convention); invert it.
    to_reduced = np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]])
    from_reduced = cv2.invertAffineTransform(to_reduced)
    composed = matrix[:, :2] @ from_reduced[:, :2]
    offset = matrix[:, :2] @ from_reduced[:, 2] + matrix[:, 2]
    return reduced, np.hstack([composed, offset[:, None]])

"""Similarity alignment of a face to the canonical template, and back.

Every module sees faces as N×N crops framed like the training data: the 468 landmarks are
mapped by a similarity transform (Umeyama least squares) onto the canonical template, the
mean UTKFace training face (``tools/make_template.py``). Coordinates are continuous pixel
coordinates with pixel (i, j) covering [i, i+1), so a pixel's centre is at +0.5 — the
convention of the shared landmarks. OpenCV's warps place pixel centres at integers;
:func:`to_opencv` converts a matrix between the two conventions in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from deocclude.paths import ASSETS_DIR

BORDER_BLUR_FRACTION = 1.0 / 24.0
"""Gaussian sigma (× crop size) of the blur applied to reflected fill outside the photo."""


@lru_cache(maxsize=1)
def _unit_template() -> np.ndarray:
    return np.load(ASSETS_DIR / "canonical_template.npy").astype(np.float64)


def canonical_template(size: int) -> np.ndarray:
    """Canonical landmark positions (468, 2) in an N×N crop, in pixel units."""
    return (_unit_template()[:, :2] * size).astype(np.float32)


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) with dst ≈ A @ [src; 1].

    Umeyama (1991); reflections are excluded. Returns a (2, 3) float64 matrix.
    """
    src = np.asarray(src, dtype=np.float64)[:, :2]
    dst = np.asarray(dst, dtype=np.float64)[:, :2]
    if src.shape != dst.shape or src.shape[0] < 2:
        raise ValueError(f"need matching point sets of at least 2 points, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var <= 0:
        raise ValueError("degenerate source points (all identical)")
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_var
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def similarity_scale(matrix: np.ndarray) -> float:
    """The uniform scale factor of a similarity matrix."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def warp_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a similarity to (..., 2) or (..., 3) points; z is multiplied by the scale."""
    points = np.asarray(points, dtype=np.float64)
    out = points.copy()
    out[..., :2] = points[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    if points.shape[-1] == 3:
        out[..., 2] = points[..., 2] * similarity_scale(matrix)
    return out


def to_opencv(matrix: np.ndarray) -> np.ndarray:
    """Convert a matrix in +0.5-centre coordinates to OpenCV's integer-centre convention."""
    converted = np.array(matrix, dtype=np.float64)
    converted[:, 2] = matrix[:, :2] @ np.array([0.5, 0.5]) + matrix[:, 2] - 0.5
    return converted


@dataclass(frozen=True)
class AlignedFace:
    """A face warped to the canonical N×N frame, with what is needed to warp it back."""

    crop: np.ndarray
    """(N, N, 3) uint8 RGB."""
    valid: np.ndarray
    """(N, N) float32: 1 where the crop shows real photo pixels, 0 where it was filled."""
    matrix: np.ndarray
    """(2, 3) similarity mapping photo coordinates to crop coordinates."""
    landmarks: np.ndarray
    """(468, 3) landmarks in crop pixels."""

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 128) -> AlignedFace:
    """Warp the face with these 468 landmarks to the canonical N×N crop.

    Pixels outside the photo are filled by a blurred reflection (so that networks see no
    hard black border) and reported as 0 in ``valid``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} dtype {image.dtype}")
    return warp_face(image, estimate_similarity(landmarks, canonical_template(size)), size, landmarks)


def working_frame(image: np.ndarray, aligned: AlignedFace, factor: float = 1.5) -> tuple[AlignedFace, int]:
    """A larger square around ``aligned`` at the same scale and centre: (the frame, the inner crop's offset in it).

    Why: the canonical crop ends just below the chin and at the cheeks, so a mask's band under the
    jaw, ear loops and glasses temples lie partly outside it; the occlusion may grow on into this
    frame (masks/frame.py). The frame's side is ``round(factor · N)`` rounded to keep the crop centred.
    """
    n = aligned.size
    offset = int(round((factor - 1.0) * n / 2))
    matrix = np.array(aligned.matrix, dtype=np.float64)
    matrix[:, 2] += offset
    landmarks = warp_points(invert_affine(aligned.matrix), aligned.landmarks.astype(np.float64))
    return warp_face(image, matrix, n + 2 * offset, landmarks), offset


def warp_face(image: np.ndarray, matrix: np.ndarray, size: int, landmarks: np.ndarray) -> AlignedFace:
    """The ``size``² crop of ``image`` under the photo → crop similarity ``matrix`` (see :func:`align_face`)."""
    source, source_to_crop = _prefilter(image, matrix, size)
    cv_matrix = to_opencv(source_to_crop)
    crop = cv2.warpAffine(source, cv_matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    ones = np.ones(source.shape[:2], dtype=np.float32)
    valid = cv2.warpAffine(
        ones, cv_matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    if valid.min() < 1.0:
        blurred = cv2.GaussianBlur(crop, (0, 0), sigmaX=size * BORDER_BLUR_FRACTION)
        weight = valid[..., None]
        crop = (crop * weight + blurred * (1.0 - weight) + 0.5).astype(np.uint8)
    return AlignedFace(
        crop=crop, valid=valid, matrix=matrix, landmarks=warp_points(matrix, _as_3d(landmarks)).astype(np.float32)
    )


def _as_3d(landmarks: np.ndarray) -> np.ndarray:
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape[-1] == 2:
        return np.concatenate([landmarks, np.zeros_like(landmarks[..., :1])], axis=-1)
    return landmarks


def crop_footprint(
    matrix: np.ndarray, size: int, image_shape: tuple[int, ...], margin: float = 2.0
) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) in the photo of the N×N crop square, clipped to the photo."""
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    photo = warp_points(invert_affine(matrix), corners)
    height, width = image_shape[:2]
    x0 = int(np.clip(np.floor(photo[:, 0].min() - margin), 0, width))
    y0 = int(np.clip(np.floor(photo[:, 1].min() - margin), 0, height))
    x1 = int(np.clip(np.ceil(photo[:, 0].max() + margin), 0, width))
    y1 = int(np.clip(np.ceil(photo[:, 1].max() + margin), 0, height))
    return x0, y0, x1, y1


def _prefilter(image: np.ndarray, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the face's region out of the photo and, for large faces, area-downsample it.

    A bilinear warp that shrinks a face by more than ~1.5× aliases (jagged edges, moiré on
    hair); shrinking the region with INTER_AREA first leaves a warp near scale 1. Cutting
    only the footprint keeps a 10000-px photo cheap. Returns the source image and the
    matrix mapping its coordinates to the crop.
    """
    x0, y0, x1, y1 = crop_footprint(matrix, size, image.shape)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image, matrix
    region = image[y0:y1, x0:x1]
    offset = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]])
    to_crop = matrix @ np.vstack([offset, [0.0, 0.0, 1.0]])
    scale = similarity_scale(matrix)
    if scale >= 1.0 / 1.5:
        return region, to_crop
    height, width = region.shape[:2]
    new_w, new_h = max(2, round(width * scale)), max(2, round(height * scale))
    small = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    unscale = np.diag([width / new_w, height / new_h, 1.0])
    return small, to_crop @ unscale

"""Landmarks for a masked face the 468-point mesh refuses: R's fit, checked by S.

On real masked photos (``benchmarks/detect_occluded.py``, RMFD) BlazeFace often finds the face
(score 0.5-0.8) but MediaPipe's mesh on it says "no face" (presence < 0.05 on every ROI the rescue
tries): its landmarks land on the mask, and so do BlazeFace's own nose and mouth keypoints (on the
bundled masked example its eyes sit 0.2 eye distances below the mesh's). Two networks trained
elsewhere stand in:

1. faceplugin's 68-point landmark network (:mod:`deocclude.faces.landmarks68`) on the detection's
   box; its 68 points are aligned onto where they fall in canonical crops on average
   (:data:`TEMPLATE_FILE`, ``tools/make_refit_template.py``): the crop. The network regresses a whole
   face shape, jaw and mouth included, and all 68 frame the face best: against the framing of the
   clean bundled example, the crop's corners move 4.9 px (of 128) on its masked copy, where the mesh's
   own alignment moves 8.9 px (brows, eyes and nose alone: 4.7; eyes alone: 8.0); on 60 clean LFW
   faces they lie 3.1 px from the mesh's framing (brows, eyes and nose: 4.6);
2. R on that crop: its face model has the mesh's 468-vertex topology, so its projected vertices are
   the face's 468 landmarks (on mesh-aligned crops of the bundled examples 1.3 px from the mesh's
   points clean, 4.3 px masked). They are not used to re-align: R predicts faces ~3 % smaller than
   the mesh does, and re-aligning on its own points zoomed in further on every step (1.1 -> 2.0 ->
   3.0 -> 4.0 px from the mesh's alignment);
3. keep the fit only when it looks like a masked face: the 68 points stay put in a mirror
   (``max_mirror``: the network draws a face on anything it is given, a different one each time
   where there is none), the second detector (:class:`deocclude.faces.rfb.SecondOpinion`) sees at
   least a hint of a face on the box (``min_second``), R's face covers the detection's box
   (``min_agreement``), S calls the band across the eyes visible face (``min_eye_face``) and the
   face below the nose tip something else (``min_lower_other``).

Step 3 is the do-no-harm part, measured on every mesh-refused detection of 30 px or more in the first
300 clean LFW photos (4), the wild photos (2) and RMFD's missed photos (35). Without it the refit turns
anything BlazeFace scored 0.5 into a face. The LFW ones are an ear, a cheek in profile, a patch of
hair and a printed pattern; S alone keeps the ear (it is skin across the "eyes", hair below) and the
cheek, the mirror rejects both (0.47, 0.31 eye distances; clean LFW faces 0.01-0.04). On RMFD the bag
and the back of a head go on S or the mirror. One thing passes S and the mirror: a box on the bundled
astronaut's orange suit around its round badge (skin-coloured "eyes", a round "mask", a symmetric
pattern); the second detector scores it 0.10, the 10 real masked faces kept 0.30-1.00. The price:
real masked faces whose landmarks wobble in the mirror (half of those S accepts, mostly turned or
tilted heads) stay untouched. Faces without a mask (sunglasses, clean) are not this module's
business: the mesh finds them (UTKFace sunglasses 100 %).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from deocclude.faces.align import AlignedFace, estimate_similarity, invert_affine, warp_face, warp_points
from deocclude.faces.detect import FaceDetection, iou
from deocclude.faces.landmarks import LEFT_EYE, NOSE_TIP, RIGHT_EYE
from deocclude.faces.landmarks68 import Landmarks68
from deocclude.faces.rfb import SecondOpinion
from deocclude.paths import ASSETS_DIR

TEMPLATE_FILE = ASSETS_DIR / "refit_template.npy"
"""(68, 2) float32: the 68 landmarks' mean position in canonical crops, in units of the crop side
(``tools/make_refit_template.py``)."""


@functools.lru_cache(maxsize=1)
def landmark68_template() -> np.ndarray:
    """(68, 2) float64, units of the crop side (:data:`TEMPLATE_FILE`)."""
    return np.load(TEMPLATE_FILE).astype(np.float64)


@dataclass(frozen=True)
class RefitConfig:
    """When a mesh-refused detection gets R's landmarks (thresholds read off RMFD, LFW, wild: module docstring).

    ``max_mirror``: :meth:`~deocclude.faces.landmarks68.Landmarks68.mirror_disagreement`, in eye distances.
    ``min_second``: the second detector's face probability on the detection's box. ``min_face``: narrower
    detector boxes (px) are left alone (a 128² crop of a 20 px face is mostly blur). ``min_agreement``: IoU of
    the box of R's 468 points with the detection's box. ``eye_band``: the band across the eyes, from
    ``eye_band[0]`` × the eye distance above the eye centres to ``eye_band[1]`` × it below. ``min_eye_face``:
    share of M_R in that band that S calls visible face. ``min_lower_other``: share of M_R below the nose tip
    that S calls neither face nor hair (the mask)."""

    max_mirror: float = 0.25
    min_second: float = 0.25
    min_face: float = 30.0
    min_agreement: float = 0.4
    eye_band: tuple[float, float] = (0.4, 0.2)
    min_eye_face: float = 0.25
    min_lower_other: float = 0.75
    """(0.6 until parser4: with it a blurred, bowed background face in LFW (Bernard Giraudeau) reached 0.61 and was
    repainted; the real masked faces kept on RMFD give 0.83-1.0.)"""


@dataclass(frozen=True)
class Refit:
    """One refit: the 468 points in photo pixels ((468, 3), z in photo px as the mesh's), the crop they
    align to, and the checks' measurements (:class:`RefitConfig`). ``kept``: every check passed;
    ``reason``: the first that failed ("" when kept)."""

    points: np.ndarray
    aligned: AlignedFace
    mirror: float
    second: float
    eye_face: float
    lower_other: float
    kept: bool
    reason: str


class MaskedFaceRefit:
    """``MaskedFaceRefit(reconstructor, segmenter)(photo, detection) -> Refit | None``.

    ``reconstructor``: a :class:`deocclude.reconstruct.inference.Reconstructor` (any crop size: it resizes);
    ``segmenter``: a :class:`deocclude.segment.inference.Segmenter` with ``parse`` (the face parser);
    ``landmarks``: the 68-point network and ``second`` the second detector (default: the bundled ones).
    None when the detection is too small to try.
    """

    def __init__(self, reconstructor: Any, segmenter: Any, size: int = 128, config: RefitConfig = RefitConfig(),
                 landmarks: Landmarks68 | None = None, second: SecondOpinion | None = None) -> None:
        self.reconstructor, self.segmenter, self.size, self.config = reconstructor, segmenter, size, config
        self.landmarks = landmarks or Landmarks68()
        self.second = second or SecondOpinion()
        self.template = landmark68_template() * size

    def __call__(self, photo: np.ndarray, detection: FaceDetection) -> Refit | None:
        if detection.width < self.config.min_face:
            return None
        n = self.size
        marks = self.landmarks(photo, detection.box)
        mirror = self.landmarks.mirror_disagreement(photo, detection.box, marks)
        second = self.second(photo, detection.box)
        matrix = estimate_similarity(marks, self.template)
        framed = warp_face(photo, matrix, n, np.zeros((468, 3)))
        reconstruction = self.reconstructor(framed.crop[None])  # one R pass: the landmarks and M_R
        crop_points = self._crop_landmarks(reconstruction.x)
        points = warp_points(invert_affine(matrix), crop_points)
        aligned = replace(framed, landmarks=crop_points.astype(np.float32))
        eye_face, lower_other, region = self._looks(aligned, reconstruction.mask[0, 0].cpu().numpy() > 0.5)
        overlap = float(iou(detection.box.astype(np.float64), points_box(points)[None])[0])
        if mirror > self.config.max_mirror:
            reason = f"the landmarks move {mirror:.2f} eye distances in a mirror (not a clear face)"
        elif second < self.config.min_second:
            reason = f"the second detector sees no face ({second:.2f})"
        elif not region:
            reason = "R's face lies outside the crop"
        elif overlap < self.config.min_agreement:
            reason = f"R's face covers the detection's box only {overlap:.0%} (IoU)"
        elif eye_face < self.config.min_eye_face:
            reason = f"S sees no eyes ({eye_face:.0%} visible face across the eyes)"
        elif lower_other < self.config.min_lower_other:
            reason = f"S sees no mask ({lower_other:.0%} of the lower face occluded)"
        else:
            reason = ""
        return Refit(points.astype(np.float32), aligned, mirror, second, eye_face, lower_other, not reason, reason)

    def _crop_landmarks(self, x: Any) -> np.ndarray:
        """R's 468 vertices for coefficients ``x`` (1, 257) in crop pixels (468, 3); z = depth relative to the
        mean, in crop pixels (towards the camera negative, as MediaPipe's)."""
        projected = self.reconstructor.landmarks(x, self.size)[0]
        depth = projected[:, 2]
        focal = float(self.reconstructor.face_model.camera.focal) * self.size
        projected[:, 2] = (depth - depth.mean()) * focal / max(float(depth.mean()), 1e-6)
        return projected

    def _looks(self, aligned: AlignedFace, region: np.ndarray) -> tuple[float, float, bool]:
        """(share of M_R (``region``, (N, N) bool) across the eyes S calls face, share of M_R below the nose tip S
        calls other, M_R seen in both)."""
        n = self.size
        classes = np.asarray(self.segmenter.parse(aligned.crop[None]))[0]
        marks = aligned.landmarks
        eyes = np.stack([marks[list(RIGHT_EYE), :2].mean(0), marks[list(LEFT_EYE), :2].mean(0)])
        distance, eye_y = float(np.linalg.norm(eyes[1] - eyes[0])), float(eyes[:, 1].mean())
        rows = np.arange(n, dtype=np.float64)[:, None] + 0.5
        above, below = self.config.eye_band
        band = region & (rows > eye_y - above * distance) & (rows < eye_y + below * distance)
        lower = region & (rows > float(marks[NOSE_TIP, 1]))
        eye_face = float((classes[0][band] > 0.5).mean()) if band.any() else 0.0
        lower_other = float((classes[2][lower] > 0.5).mean()) if lower.any() else 0.0
        return eye_face, lower_other, bool(band.any() and lower.any())


def points_box(points: np.ndarray) -> np.ndarray:
    """The (x0, y0, x1, y1) box of (N, 2+) points, float64."""
    xy = np.asarray(points, np.float64)[:, :2]
    return np.concatenate([xy.min(0), xy.max(0)])

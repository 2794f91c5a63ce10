"""dlib's face-chip framing, and the fixed warp from our canonical crop to it.

dlib's network expects 150×150 chips framed by ``get_face_chip_details(shape, 150, 0.25)``:
a least-squares similarity from a mean-face template to the shape predictor's landmarks.
The template constants below are copied from dlib's ``image_transforms/interpolation.h``
(``get_face_chip_details``). Coordinates here are continuous, pixel (i, j) covering
[i, i+1) (our convention); in these coordinates dlib's chip *is* the template frame
scaled by the chip size (dlib's own chip extraction agrees to within half a pixel).

:data:`CANONICAL_UNIT_TO_CHIP` maps a point of our canonical crop, divided by the crop
size, to dlib's chip. It was fitted by ``tools/derive_dlib_chip_framing.py``: dlib's own
detector and 5-point predictor on UTKFace train crops, each dlib landmark mapped into the
canonical frame by that face's MediaPipe alignment, one similarity pooled over all faces
(see ``benchmarks/results/identity_chip_framing.json`` for the residuals and the 68-point
cross-check).
"""

from __future__ import annotations

import numpy as np

CHIP_SIZE = 150
CHIP_PADDING = 0.25

DLIB_TEMPLATE_5 = np.array([
    [0.8595674595992, 0.2134981538014],  # part 0: outer corner of the eye on the image's right
    [0.6460604764104, 0.2289674387677],  # part 1: its inner corner
    [0.1205750620789, 0.2137274526848],  # part 2: outer corner of the eye on the image's left
    [0.3340850613712, 0.2290642403242],  # part 3: its inner corner
    [0.4901123135679, 0.6277975316475],  # part 4: base of the nose
])
"""dlib's 5-point mean face (unit square, before padding)."""

_MEAN_FACE_68_X = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689,
]
_MEAN_FACE_68_Y = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182,
]
"""dlib's mean positions of iBUG-68 points 17..67 (unit square, before padding)."""


def dlib_template_68_used(values: bool = False) -> np.ndarray:
    """The iBUG-68 indices dlib fits (no brows, no lower lip) or, with ``values``, their template."""
    indices = [i for i in range(17, 68) if not (17 <= i <= 26 or 55 <= i <= 59 or 65 <= i <= 67)]
    if values:
        return np.array([[_MEAN_FACE_68_X[i - 17], _MEAN_FACE_68_Y[i - 17]] for i in indices])
    return np.array(indices)


def template_points(unit: np.ndarray, size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> np.ndarray:
    """dlib's ``(padding + p) / (2 padding + 1) * size``: template points in chip pixels."""
    return (padding + np.asarray(unit, dtype=np.float64)) / (2 * padding + 1) * size

CANONICAL_UNIT_TO_CHIP = (
    (137.3637134303049, 0.2829959248384697, 6.200391435731888),
    (-0.28299592483846964, 137.36371343030487, 5.121176652694572),
)
"""Similarity (2×3) from canonical-crop coordinates divided by the crop size to dlib's 150 chip.

Fitted on 1,454 UTKFace train faces (seed 20261125) with dlib's 5-point predictor; mean point
residual 2.7 chip px. The 68-point template gives scale 139.2 and offsets (5.3, 5.6), within
1.5% / 1 px of this."""
MEDIAPIPE_NEAREST_TO_DLIB_5 = (249, 382, 7, 155, 2)
"""For each of dlib's 5 points, the canonical-template MediaPipe vertex nearest to its mean
position (same fit). dlib's eye corners sit slightly inside MediaPipe's (33/133, 362/263),
so a similarity from these vertices alone is 2% larger than the pooled fit: use
:data:`CANONICAL_UNIT_TO_CHIP`, which needs no vertex correspondence."""

"""Face geometry from the 468 MediaPipe landmarks: where each kind of occluder goes.

Occluders are placed relative to the face, not the image, so the same code works on an
aligned 128x128 crop, a raw 200x200 UTKFace crop or a whole photo. Every placement is
expressed in a *face frame*: origin at the midpoint of the eyes, x along the eye line
(towards the image-right eye), y perpendicular pointing down the face, unit = the
interocular distance (IOD). This makes the placement rules independent of face size and
in-plane rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Eye contours (image-left eye = subject's right eye, 33 = outer corner).
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
LEFT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
RIGHT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
# Face outline, each side from the temple down to the chin (152).
LEFT_CONTOUR = (162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152)
RIGHT_CONTOUR = (389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109)
FOREHEAD_TOP = 10
CHIN = 152
NOSE_TIP = 4
NOSE_BRIDGE = (197, 195)
# Nose ridge from between the eyes down to the tip (masks rest on it).
NOSE_RIDGE = (168, 6, 197, 195, 5, 4)
LOWER_LIP = 17
MOUTH_CENTRE = (13, 14)


@dataclass(frozen=True)
class FaceFrame:
    """A similarity frame attached to the face (see module docstring)."""

    origin: np.ndarray  # (2,) eye midpoint, image px
    ux: np.ndarray  # (2,) unit vector along the eye line
    uy: np.ndarray  # (2,) unit vector down the face
    iod: float  # interocular distance in px

    @property
    def angle_deg(self) -> float:
        """In-plane rotation of the eye line (image coordinates, y down)."""
        return float(np.degrees(np.arctan2(self.ux[1], self.ux[0])))

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        """Face-frame coordinates (IOD units) -> image px."""
        pts = np.asarray(pts, dtype=np.float64)
        return self.origin + self.iod * (pts[..., :1] * self.ux + pts[..., 1:2] * self.uy)

    def to_face(self, pts: np.ndarray) -> np.ndarray:
        """Image px -> face-frame coordinates (IOD units)."""
        d = np.asarray(pts, dtype=np.float64)[..., :2] - self.origin
        return np.stack([d @ self.ux, d @ self.uy], axis=-1) / self.iod


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    """The face frame of a 468-point landmark set (px, (468, 2|3))."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    left = pts[list(LEFT_EYE)].mean(0)
    right = pts[list(RIGHT_EYE)].mean(0)
    d = right - left
    iod = float(np.hypot(*d))
    if not np.isfinite(iod) or iod < 1e-3:
        raise ValueError("degenerate landmarks: the eyes coincide")
    ux = d / iod
    uy = np.array([-ux[1], ux[0]])
    return FaceFrame(origin=(left + right) / 2, ux=ux, uy=uy, iod=iod)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye centre, image-right eye centre) in px."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    return pts[list(LEFT_EYE)].mean(0), pts[list(RIGHT_EYE)].mean(0)


def contour_at_height(landmarks: np.ndarray, contour: tuple[int, ...], frame: FaceFrame,
                      height: float) -> np.ndarray:
    """Point (px) where a face-outline polyline crosses face-frame height ``height``.

    Linear interpolation along the polyline; clamped to its ends when the height is outside
    it. Used for the MaskTheFace anchors ("contour at the height of the nose tip").
    """
    f = frame.to_face(np.asarray(landmarks, dtype=np.float64)[list(contour), :2])
    ys = f[:, 1]
    for i in range(len(f) - 1):
        y0, y1 = ys[i], ys[i + 1]
        if (y0 - height) * (y1 - height) <= 0 and y0 != y1:
            t = (height - y0) / (y1 - y0)
            return frame.to_image(f[i] + t * (f[i + 1] - f[i]))
    return frame.to_image(f[int(np.argmin(np.abs(ys - height)))])


def mask_anchor_points(landmarks: np.ndarray) -> np.ndarray:
    """The six MaskTheFace face points a..f (6, 2) px.

    a, c: left / right face contour at the height of the nose tip; b: middle of the nose
    bridge; d, f: left / right jaw contour at the height of the lower lip; e: chin.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    fr = face_frame(pts)
    nose_h = fr.to_face(pts[NOSE_TIP])[1]
    lip_h = fr.to_face(pts[LOWER_LIP])[1]
    a = contour_at_height(pts, LEFT_CONTOUR, fr, nose_h)
    c = contour_at_height(pts, RIGHT_CONTOUR, fr, nose_h)
    d = contour_at_height(pts, LEFT_CONTOUR, fr, lip_h)
    f = contour_at_height(pts, RIGHT_CONTOUR, fr, lip_h)
    b = pts[list(NOSE_BRIDGE)].mean(0)
    e = pts[CHIN]
    return np.stack([a, b, c, d, e, f])


def face_box(landmarks: np.ndarray, frame: FaceFrame) -> tuple[float, float, float, float]:
    """Face-oval extent in face-frame units: (x_min, x_max, y_min, y_max)."""
    f = frame.to_face(np.asarray(landmarks, dtype=np.float64)[list(FACE_OVAL), :2])
    return float(f[:, 0].min()), float(f[:, 0].max()), float(f[:, 1].min()), float(f[:, 1].max())


def side_contour(landmarks: np.ndarray, frame: FaceFrame, side: int) -> np.ndarray:
    """One side of the face outline in face-frame units, temple to chin (13, 2); ``side`` -1 = image-left."""
    idx = LEFT_CONTOUR if side < 0 else RIGHT_CONTOUR
    return frame.to_face(np.asarray(landmarks, dtype=np.float64)[list(idx), :2])


def ridge_point(landmarks: np.ndarray, frame: FaceFrame, height: float) -> np.ndarray:
    """Point of the nose ridge at face-frame height ``height`` (face-frame units, (2,)).

    Follows the ridge landmarks, so a turned face's nose moves the point with it; clamped
    to the ridge's ends (between the eyes, the tip).
    """
    r = frame.to_face(np.asarray(landmarks, dtype=np.float64)[list(NOSE_RIDGE), :2])
    y = np.maximum.accumulate(r[:, 1]) + 1e-9 * np.arange(len(r))  # monotone for interp
    h = float(np.clip(height, y[0], y[-1]))
    return np.array([float(np.interp(h, y, r[:, 0])), h])


def ear_point(landmarks: np.ndarray, frame: FaceFrame, side: int, height: float, out: float) -> np.ndarray:
    """Where an ear (loop or temple end) is: the face outline at face-frame ``height``, ``out``
    IOD further out sideways; face-frame units (2,). ``side`` -1 = image-left ear.

    The 468 landmarks have no ear points; the ears sit just outside the outline between
    brow and nose-tip height (outline points 127/234/93 and 356/454/323).
    """
    idx = LEFT_CONTOUR if side < 0 else RIGHT_CONTOUR
    p = frame.to_face(contour_at_height(landmarks, idx, frame, height))
    return np.array([p[0] + np.sign(side) * out, p[1]])

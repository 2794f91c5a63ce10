"""Antialiased drawing of alpha masks with sub-pixel precision (OpenCV, uint8 -> float)."""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4
_ONE = 1 << _SHIFT


def _int_pts(pts: np.ndarray) -> np.ndarray:
    # pixel centres at +0.5: cv2 draws integer coordinates at pixel centres
    return np.round((np.asarray(pts, dtype=np.float64) - 0.5) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def fill_polygon(height: int, width: int, pts: np.ndarray) -> np.ndarray:
    """Filled polygon as a float32 alpha (H, W) in [0, 1]."""
    m = np.zeros((height, width), np.uint8)
    cv2.fillPoly(m, [_int_pts(pts)], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m.astype(np.float32) / 255.0


def polyline(height: int, width: int, pts: np.ndarray, thickness: float, closed: bool = False,
             value: int = 255) -> np.ndarray:
    """A polyline of the given thickness (px) as a float32 alpha (H, W).

    Thicknesses below 1 px are drawn 1 px wide at reduced alpha, so thin hair strands and
    frames fade instead of vanishing at small N.
    """
    m = np.zeros((height, width), np.uint8)
    t = max(1, int(round(thickness)))
    v = int(round(value * min(1.0, max(thickness, 0.05))))
    cv2.polylines(m, [_int_pts(pts)], closed, v, thickness=t, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m.astype(np.float32) / 255.0


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 16) -> np.ndarray:
    """Quadratic Bezier curve through control points (n, 2)."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def smooth_closed(pts: np.ndarray, samples: int = 8) -> np.ndarray:
    """Chaikin-like smoothing of a closed polygon via periodic Catmull-Rom sampling."""
    p = np.asarray(pts, dtype=np.float64)
    n = len(p)
    out = []
    for i in range(n):
        p0, p1, p2, p3 = p[(i - 1) % n], p[i], p[(i + 1) % n], p[(i + 2) % n]
        t = np.linspace(0, 1, samples, endpoint=False)[:, None]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    return np.concatenate(out)


def polyline_into(canvas: np.ndarray, pts: np.ndarray, thickness: float, value: float) -> None:
    """Draw a polyline into a uint8 canvas in place (later strokes cover earlier ones).

    Much cheaper than one float canvas per stroke when drawing hundreds of hair strands.
    Thicknesses below 1 px are drawn 1 px wide at proportionally lower value.
    """
    t = max(1, int(round(thickness)))
    v = int(round(255 * value * min(1.0, max(thickness, 0.05))))
    cv2.polylines(canvas, [_int_pts(pts)], False, v, thickness=t, lineType=cv2.LINE_AA, shift=_SHIFT)


def fine_polyline(height: int, width: int, pts: np.ndarray, thickness: float, closed: bool = False,
                  supersample: int = 4) -> np.ndarray:
    """A polyline whose fractional thickness (px) is kept to 1/``supersample`` px, as a float32 alpha (H, W).

    Drawn on a ``supersample``-times larger canvas and area-averaged back: thin glasses frames,
    temples and ear loops (1-3 px at N = 128) keep their width instead of snapping to whole pixels.
    """
    ss = max(1, min(int(supersample), 4096 // max(height, width, 1)))
    m = np.zeros((height * ss, width * ss), np.uint8)
    t = max(1, int(round(thickness * ss)))
    cv2.polylines(m, [_int_pts(np.asarray(pts, dtype=np.float64) * ss)], closed, 255, thickness=t,
                  lineType=cv2.LINE_AA, shift=_SHIFT)
    out = np.asarray(cv2.resize(m.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) if ss > 1
                     else m, dtype=np.float32)
    return (out / 255.0).clip(0.0, 1.0)


def over(layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Stack (colour (H, W, 3), alpha (H, W)) layers, bottom first, with the "over" operator."""
    colour, alpha = layers[0]
    premul = colour * alpha[..., None]
    for c, a in layers[1:]:
        premul = c * a[..., None] + premul * (1.0 - a[..., None])
        alpha = a + alpha * (1.0 - a)
    out = np.where(alpha[..., None] > 1e-6, premul / np.maximum(alpha[..., None], 1e-6), layers[-1][0])
    return np.clip(out, 0.0, 1.0).astype(np.float32), np.clip(alpha, 0.0, 1.0).astype(np.float32)

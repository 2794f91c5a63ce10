"""Second look for faces BlazeFace misses at its own thresholds: masked, sunglassed, cut off, small.

Two failures lose occluded faces (``benchmarks/detect_occluded.py``):

1. BlazeFace scores a masked face below its threshold (0.5 / 0.6), or finds it only when the
   photo is padded (a face filling the frame or cut by its edge) or tiled (small faces).
2. BlazeFace finds the face, but its box and eye keypoints on a masked face are off (the mouth
   and nose keypoints sit on the mask), so the 468-point mesh on MediaPipe's ROI from that
   box says "no face" (presence < 0.5) and the face is dropped.

The rescue looks again with both models, at a lower score, on the photo, a padded copy and
(full range) tiles, and lets the mesh decide: a candidate is kept only when the mesh on it is
present, after moving its box and keypoints to where the mesh puts the face (as MediaPipe's
tracking derives the next ROI from the landmarks). The returned detection is built so that
MediaPipe's ROI from it (:func:`deocclude.faces.landmarks.roi_from_detection`) is exactly the
region whose mesh was checked: a caller running ``FaceMesh`` on it gets the same presence.

Where the mesh is present (>= 0.5) but not sure enough for the rescue's own guards (its presence
below ``rescue_presence``, or the face gone in the mirror), a second detector trained elsewhere
(:class:`deocclude.faces.rfb.SecondOpinion`) may vouch for the box instead: on real masked photos
these are mostly real faces whose mesh sits on the face (``benchmarks/detect_occluded.py``).

Nothing found the ordinary way is changed; rescued faces are only added, never on top of a
face whose mesh is already present.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from deocclude.faces.detect import FaceDetection, iou
from deocclude.faces.landmarks import (
    LEFT_EYE,
    LEFT_TRAGION,
    MOUTH,
    NOSE_TIP,
    PRESENT,
    RIGHT_EYE,
    RIGHT_TRAGION,
    roi_from_detection,
    roi_from_landmarks,
)
from deocclude.faces.warp import RotatedSquare

if TYPE_CHECKING:
    from deocclude.faces.detect import BlazeFace, DetectorConfig, ModelName
    from deocclude.faces.landmarks import FaceMesh

SecondDetector = Callable[[np.ndarray, np.ndarray], float]
"""(photo, box xyxy) -> how sure a second detector is of a face there (:class:`deocclude.faces.rfb.SecondOpinion`)."""


def detection_from_landmarks(points: np.ndarray, score: float, model: str) -> FaceDetection:
    """A detection whose MediaPipe ROI is the mesh's tracking ROI: box = the landmarks' box,
    keypoints = eye centres, nose tip, mouth centre, cheek contour points at the ears."""
    xy = points[:, :2].astype(np.float64)
    lo, hi = xy.min(0), xy.max(0)
    kps = np.stack([xy[list(RIGHT_EYE)].mean(0), xy[list(LEFT_EYE)].mean(0), xy[NOSE_TIP], xy[list(MOUTH)].mean(0),
                    xy[RIGHT_TRAGION], xy[LEFT_TRAGION]]).astype(np.float32)
    return FaceDetection(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), float(score), kps, model)  # type: ignore[arg-type]


def _pad(image: np.ndarray, fraction: float) -> tuple[np.ndarray, int]:
    pad = round(max(image.shape[:2]) * fraction)
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0)), pad


def _shift(face: FaceDetection, d: float) -> FaceDetection:
    return replace(face, x0=face.x0 - d, y0=face.y0 - d, x1=face.x1 - d, y1=face.y1 - d,
                   keypoints=(face.keypoints - np.float32(d)).astype(np.float32))


def candidates(image: np.ndarray, get: Callable[[ModelName], BlazeFace], config: DetectorConfig,
               models: tuple[ModelName, ...] = ("short", "full")) -> list[FaceDetection]:
    """Low-score detections of ``models`` on the photo (full range: with tiles) and a padded copy."""
    thr = config.rescue_min_score
    found: list[FaceDetection] = []
    padded, pad = _pad(image, config.rescue_pad)
    for name in models:
        model = get(name)
        found += model(image, thr) if name == "short" else model.tiled(image, config.tile_levels, thr, config.min_tile)
        found += [_shift(f, pad) for f in model(padded, thr)]
    h, w = image.shape[:2]
    keep = [f for f in found if f.width >= config.rescue_min_face and f.x1 > 0 and f.y1 > 0 and f.x0 < w and f.y0 < h]
    return sorted(keep, key=lambda f: -f.score)


def overlaps(box: np.ndarray, boxes: list[np.ndarray], threshold: float = 0.3, centre: bool = True) -> bool:
    """IoU above ``threshold`` with any of ``boxes``, or (``centre``) the centre of ``box`` inside one."""
    if not boxes:
        return False
    stack = np.stack(boxes).astype(np.float64)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    inside = (stack[:, 0] <= cx) & (cx <= stack[:, 2]) & (stack[:, 1] <= cy) & (cy <= stack[:, 3])
    return bool((centre and inside.any()) or (iou(box.astype(np.float64), stack) > threshold).any())


def detection_for_roi(roi: RotatedSquare, points: np.ndarray, score: float, model: str, scale: float = 1.5
                      ) -> FaceDetection:
    """A detection from which MediaPipe's ROI (:func:`~deocclude.faces.landmarks.roi_from_detection`)
    is ``roi``: a square box of side ``roi.side / scale`` on its centre, the two eye keypoints on
    a line at the ROI's rotation through the mesh's eye centres, the other keypoints from the mesh."""
    base = detection_from_landmarks(points, score, model)
    kps = base.keypoints.astype(np.float64)
    mid = (kps[0] + kps[1]) / 2.0
    half = max(float(np.linalg.norm(kps[1] - kps[0])) / 2.0, 1.0)
    direction = np.array([math.cos(roi.rotation), math.sin(roi.rotation)])
    kps[0], kps[1] = mid - half * direction, mid + half * direction
    side = roi.side / scale
    return FaceDetection(roi.cx - side / 2, roi.cy - side / 2, roi.cx + side / 2, roi.cy + side / 2, float(score),
                         kps.astype(np.float32), model)  # type: ignore[arg-type]


def search_roi(image: np.ndarray, mesh: FaceMesh, seed: RotatedSquare, config: DetectorConfig
               ) -> tuple[RotatedSquare, np.ndarray, float]:
    """The ROI around ``seed`` where the mesh is most sure of a face. (roi, points, presence).

    Coarse: the seed and ``rescue_roi_scales`` × its side, each at the keypoints' rotation and
    upright (on masked faces a tighter ROI often works: less mask, larger eyes). Fine, when
    the best coarse presence reached ``rescue_seed_presence``: that ROI shifted by
    ``rescue_roi_shift`` × its side in 8 directions, then the landmarks' own ROI. Stops as
    soon as a presence reaches 0.95.
    """
    best: list = [None, None, -1.0]

    def attempt(roi: RotatedSquare) -> bool:
        points, presence = mesh.run_roi(image, roi)
        if presence > best[2]:
            best[:] = [roi, points, presence]
        return presence >= 0.95

    for k in (1.0, *config.rescue_roi_scales):
        for rotation in (seed.rotation, 0.0):
            if attempt(replace(seed, side=seed.side * k, rotation=rotation)):
                return best[0], best[1], best[2]
    if best[2] < config.rescue_seed_presence:
        return best[0], best[1], best[2]
    centre, d = best[0], config.rescue_roi_shift * best[0].side
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, -1), (-1, 1), (1, 1)):
        if attempt(replace(centre, cx=centre.cx + dx * d, cy=centre.cy + dy * d)):
            break
    attempt(roi_from_landmarks(best[1], mesh.config.scale))
    return best[0], best[1], best[2]


def agrees(cand: FaceDetection, face: FaceDetection, points: np.ndarray, min_iou: float) -> bool:
    """Whether the mesh fit is the face the detector saw: boxes overlap by ``min_iou`` or more and
    the mesh's eye centres lie within a quarter of the candidate's width of its eye keypoints.
    (Searched ROIs can make the mesh "present" on part of a face, or on a patch of clothing,
    with its points somewhere else than the detector's face.)"""
    if iou(cand.box.astype(np.float64), face.box[None].astype(np.float64))[0] < min_iou:
        return False
    eyes = np.stack([points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)])
    return bool((np.linalg.norm(eyes - cand.keypoints[:2], axis=1) <= 0.25 * cand.width).all())


def _shared(box: np.ndarray, boxes: list[np.ndarray]) -> float:
    """The largest share of the smaller box that ``box`` shares with one of ``boxes`` (0 if none)."""
    if not boxes:
        return 0.0
    stack = np.stack(boxes).astype(np.float64)
    ix = np.clip(np.minimum(box[2], stack[:, 2]) - np.maximum(box[0], stack[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], stack[:, 3]) - np.maximum(box[1], stack[:, 1]), 0, None)
    areas = (stack[:, 2] - stack[:, 0]) * (stack[:, 3] - stack[:, 1])
    area = float((box[2] - box[0]) * (box[3] - box[1]))
    return float((ix * iy / np.maximum(np.minimum(areas, area), 1e-9)).max())


STAGES = ("not tried", "mesh not present", "mesh below the rescue's presence", "fit disagrees with the box",
          "final ROI not present or on a found face", "gone in the mirror", "second detector unsure",
          "kept", "kept on the second opinion")
"""Where a rescue candidate stopped (``rescue(trace=...)``), in the order of the checks: "not tried" (beyond
``rescue_max_tries``), then one per check, then the two ways to be kept."""


def rescue(image: np.ndarray, base: list[FaceDetection], get: Callable[[ModelName], BlazeFace], mesh: FaceMesh,
           config: DetectorConfig, models: tuple[ModelName, ...] = ("short", "full"),
           second: SecondDetector | None = None, trace: list[tuple[FaceDetection, str]] | None = None
           ) -> list[FaceDetection]:
    """Faces to add to ``base`` (the ordinary detections of ``image``), looked for with ``models``.

    A candidate is kept when its mesh is sure (presence ``rescue_presence``, or ``rescue_presence_unsure``
    for a low detector score, on the searched and on the final ROI, and present in the mirror), or, with
    ``second``, when the mesh is at least present (:data:`~deocclude.faces.landmarks.PRESENT`) and
    ``second`` scores the face's box ``rescue_second_score`` or more. Either way the fit must agree
    with the candidate and not sit on a face already found. Nothing is looked for when a face already found
    is at least ``rescue_below`` × the long side wide. ``trace`` gets (candidate, one of
    :data:`STAGES`) for every candidate not on a face already found or tried (where misses are lost)."""
    present = [f for f, m in zip(base, mesh(image, base)) if m.present]
    if present and max(f.width for f in present) >= config.rescue_below * max(image.shape[:2]):
        return []  # a portrait: its face is found and no small faces are likely around (rescue_below)
    taken = [f.box for f in present]
    tried: list[np.ndarray] = []
    added: list[FaceDetection] = []
    mirrored: list[np.ndarray] = []
    for cand in candidates(image, get, config, models):
        if overlaps(cand.box, taken) or overlaps(cand.box, tried, 0.6, centre=False):
            continue
        stage = _check(image, cand, taken, mesh, config, second, mirrored) \
            if len(tried) < config.rescue_max_tries else (STAGES[0], None)
        tried.append(cand.box)
        if trace is not None:
            trace.append((cand, stage[0]))
        if stage[1] is not None:
            added.append(stage[1])
            taken.append(stage[1].box)
    return added


def _check(image: np.ndarray, cand: FaceDetection, taken: list[np.ndarray], mesh: FaceMesh, config: DetectorConfig,
           second: SecondDetector | None, mirrored: list[np.ndarray]) -> tuple[str, FaceDetection | None]:
    """One candidate through the rescue's checks: (the stage it stopped at, the face when kept)."""
    scale = mesh.config.scale
    roi, points, presence = search_roi(image, mesh, roi_from_detection(cand, scale), config)
    needed = config.rescue_presence if cand.score >= config.rescue_sure_score else config.rescue_presence_unsure
    if presence < (needed if second is None else min(needed, PRESENT)):
        return STAGES[1] if presence < PRESENT else STAGES[2], None
    face = detection_for_roi(roi, points, cand.score, cand.model, scale)
    if not agrees(cand, face, points, config.rescue_min_agreement):
        return STAGES[3], None
    final = roi_from_detection(face, scale)
    _, final_presence = mesh.run_roi(image, final)  # what a caller's mesh will see
    if final_presence < PRESENT or overlaps(face.box, taken) or _shared(face.box, taken) > config.rescue_max_shared:
        return STAGES[4], None
    if min(presence, final_presence) >= needed and _mirrored(image, mirrored, mesh, final, config):
        return STAGES[7], face
    if second is None:
        return STAGES[5] if min(presence, final_presence) >= needed else STAGES[2], None
    if second(image, face.box) < config.rescue_second_score:
        return STAGES[6], None
    return STAGES[8], face


def _mirrored(image: np.ndarray, cache: list[np.ndarray], mesh: FaceMesh, roi: RotatedSquare,
              config: DetectorConfig) -> bool:
    """Whether the mesh on the mirrored photo's ``roi`` reaches ``rescue_mirror_presence`` (0 skips the
    check): a face stays a face in a mirror; a logo or a sleeve seldom. ``cache`` keeps the mirrored photo."""
    if config.rescue_mirror_presence <= 0:
        return True
    if not cache:
        cache.append(np.ascontiguousarray(image[:, ::-1]))
    mirror = replace(roi, cx=image.shape[1] - roi.cx, rotation=-roi.rotation)
    return mesh.run_roi(cache[0], mirror)[1] >= config.rescue_mirror_presence

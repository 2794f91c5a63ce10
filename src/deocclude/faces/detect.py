"""Face detection with MediaPipe's BlazeFace models (short range and full range sparse).

The networks are MediaPipe's; everything around them is ours and follows MediaPipe's
``face_detection_*`` graphs (mediapipe 0.10): letterbox the image into the square input
(keep aspect, zero border, values in [-1, 1]), decode boxes and 6 keypoints against SSD
anchors (:mod:`deocclude.faces.anchors`), sigmoid scores with clipping, weighted
non-maximum suppression, and map back to original-image pixels.

Model choice. The short-range model (128² input) was trained on faces that fill a good
part of the frame (selfies, portraits, face crops); the full-range model (192² input,
stride-4 anchors) also finds faces down to about 2% of the long side, as in group photos,
but is less exact on big faces. ``model="auto"`` runs short range and adds full range when
short range finds nothing or when its largest face is small compared to the image (see
:attr:`DetectorConfig.auto_full_below`): then small faces are likely to be around that
short range cannot see. Full range then also runs on overlapping tiles so that faces far
below 9% of the long side are found (:meth:`BlazeFace.tiled`). Of two detections of the same
face from two tiles the higher score is kept; of a short- and a full-range detection the
short-range one unless its score is clearly lower (:func:`merge_detections`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.faces.anchors import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, AnchorOptions, generate_anchors
from deocclude.faces.tflite import TfliteModel
from deocclude.faces.warp import RotatedSquare, apply_affine, warp_to_tensor

if TYPE_CHECKING:
    from deocclude.faces.landmarks import FaceMesh
    from deocclude.faces.rfb import SecondOpinion

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear_tragion", "left_ear_tragion")
"""MediaPipe's order of the 6 detection keypoints (right/left from the person's view)."""

ModelName = Literal["short", "full"]


@dataclass(frozen=True, eq=False)
class FaceDetection:
    """One detected face in original-image pixels (MediaPipe's normalised coords × size).

    ``keypoints`` is (6, 2) float32 in the order of :data:`KEYPOINT_NAMES`.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    keypoints: np.ndarray
    model: ModelName

    @property
    def box(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.x1, self.y1], dtype=np.float32)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One BlazeFace model and the decoding options of its MediaPipe graph."""

    file: str
    anchors: AnchorOptions
    min_score: float  # TensorsToDetections min_score_thresh in MediaPipe's graph
    num_keypoints: int = 6
    score_clip: float = 100.0
    nms_iou: float = 0.3


SPECS: dict[str, BlazeFaceSpec] = {
    "short": BlazeFaceSpec("face_detection_short_range.tflite", SHORT_RANGE_ANCHORS, min_score=0.5),
    "full": BlazeFaceSpec("face_detection_full_range_sparse.tflite", FULL_RANGE_ANCHORS, min_score=0.6),
}


@dataclass(frozen=True)
class DetectorConfig:
    """How :class:`FaceDetector` combines and runs its models.

    ``auto_full_below``: in ``auto`` mode, full range also runs when the largest short-range
    face is narrower than this fraction of the image's long side (or none was found).
    ``merge_iou``: a full-range face overlapping a short-range one by more is a duplicate;
    the short-range one is kept unless its score is ``prefer_short`` lower.
    ``tile_levels``: full range also runs on overlapping tiles of half (level 1), a quarter
    (level 2)… of the long side, to find faces down to ~9% of a tile (see
    :meth:`BlazeFace.tiled`); level 1 costs 9 extra model runs, level 2 another 49; no tiles
    smaller than ``min_tile`` px.
    ``antialias_below``: area-downsample before the bilinear letterbox warp when the image
    is shrunk by more than this (MediaPipe never does; it only matters for big photos).
    ``rescue``: look again for faces the models miss at their thresholds or whose mesh is
    not present (masked, sunglassed, cut-off faces; :mod:`deocclude.faces.rescue`): both
    models at ``rescue_min_score`` on the photo, a copy padded by ``rescue_pad`` × its long
    side and full-range tiles (as above); at most ``rescue_max_tries``
    candidates (best score first, ``rescue_min_face`` px wide or more, not on a face already
    found) get the mesh on a few ROIs around them (:func:`deocclude.faces.rescue.search_roi`);
    one is kept when the best ROI's presence reaches ``rescue_presence`` (``rescue_presence_unsure``
    for candidates scored below ``rescue_sure_score``: the astronaut's suit, seen by short range
    in the padded photo at 0.32, reaches 0.91) and its box shares
    at most ``rescue_max_shared`` of the smaller box with a face already found (a mesh on a
    blurred shoulder next to a face can be "present"), and the fit agrees with the candidate
    (:func:`deocclude.faces.rescue.agrees`, box IoU >= ``rescue_min_agreement``), and the mesh
    on the mirrored photo's ROI reaches ``rescue_mirror_presence`` (0 skips this check): on
    clean LFW photos this drops most false faces the search finds on logos, signs and sleeves. With
    ``rescue_second_opinion``, a candidate whose mesh is present (>= 0.5) but fails the presence or mirror
    guard is kept when a second detector (:class:`deocclude.faces.rfb.SecondOpinion`, trained elsewhere)
    scores its box ``rescue_second_score`` or more: on real masked photos the mesh often sits on the face
    with presence 0.5-0.8 or flips in the mirror. ``rescue_below``: the rescue looks only in photos where the
    ordinary detection found no face with a present mesh, or whose largest such face is narrower than this
    share of the long side (groups, crowds, small faces: where more faces hide); 1 = in every photo. In a
    portrait it found only background or false faces and cost most of the detection time (session 8, at the
    default 0.25 against 1: RMFD faces 501 -> 500, photos with a face unchanged at 83.5 %; 300 LFW photos
    333 -> 320 faces, the 13 all beside the central one; 78 wild photos 88 -> 87, img62's half-hidden
    background face; finding faces 28.5 -> 11.5 ms per LFW photo, 106 -> 52 per wild photo). ``rescue=False``
    is the detector as it was before (MediaPipe's thresholds only).
    ``max_pixels``: a bigger photo is detected on one INTER_AREA-reduced copy of about this many pixels, and the
    detections are scaled back (see :func:`reduce_for_detection`); photos up to it are detected as they are.
    """

    auto_full_below: float = 0.25
    merge_iou: float = 0.3
    max_faces: int | None = None
    prefer_short: float = 0.15
    tile_levels: int = 1
    min_tile: int = 384
    antialias_below: float = 0.5
    num_threads: int = 1
    rescue: bool = True
    rescue_min_score: float = 0.3
    rescue_sure_score: float = 0.4
    rescue_pad: float = 0.25
    rescue_roi_scales: tuple[float, ...] = (0.85, 1.25)
    rescue_roi_shift: float = 0.08
    rescue_min_face: float = 30.0
    rescue_max_tries: int = 6
    rescue_seed_presence: float = 0.05
    rescue_presence: float = 0.8
    rescue_presence_unsure: float = 0.95
    rescue_max_shared: float = 0.25
    rescue_min_agreement: float = 0.4
    rescue_mirror_presence: float = 0.5
    rescue_second_opinion: bool = True
    rescue_second_score: float = 0.9
    rescue_below: float = 0.25
    max_pixels: int = 16_000_000


def check_image(image: np.ndarray) -> None:
    """Raise a one-line DeoccludeError unless ``image`` is RGB uint8 H×W×3 and non-empty."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise DeoccludeError(f"face detection needs an RGB uint8 H×W×3 image, got {desc}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise DeoccludeError("face detection got an empty image (0 pixels)")


def letterbox(height: int, width: int) -> RotatedSquare:
    """The square that holds the whole image centred, as MediaPipe's keep-aspect letterbox."""
    return RotatedSquare(cx=width / 2.0, cy=height / 2.0, side=float(max(height, width)))


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, spec: BlazeFaceSpec,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's TensorsToDetections: boxes (N, 4) xyxy, keypoints (N, K, 2), scores (N,).

    Coordinates are normalised to the model input. Raw layout per anchor (reverse output
    order): x, y, w, h, then K (x, y) keypoints, all in input pixels relative to the anchor.
    """
    size = float(spec.anchors.input_size)
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -spec.score_clip, spec.score_clip)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    raw, anc, scores = raw_boxes[keep].astype(np.float64), anchors[keep].astype(np.float64), scores[keep]
    ax, ay, aw, ah = anc[:, 0:1], anc[:, 1:2], anc[:, 2:3], anc[:, 3:4]
    cx = raw[:, 0:1] / size * aw + ax
    cy = raw[:, 1:2] / size * ah + ay
    w = raw[:, 2:3] / size * aw
    h = raw[:, 3:4] / size * ah
    boxes = np.hstack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    kp = raw[:, 4 : 4 + 2 * spec.num_keypoints].reshape(-1, spec.num_keypoints, 2)
    kp = kp / size * np.stack([aw, ah], axis=-1) + np.stack([ax, ay], axis=-1)
    valid = (w[:, 0] > 0) & (h[:, 0] > 0)
    return boxes[valid], kp[valid], scores[valid]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one xyxy box with (N, 4) boxes (0 where they do not meet)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0.0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0.0, None)
    inter = ix * iy
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression.

    Take the best remaining detection and every remaining one overlapping it by IoU >
    ``iou_threshold`` (itself included); output their score-weighted mean box and keypoints
    with the best one's score. Averaging the many anchors that fire on one face steadies
    the box, which matters because the mesh ROI is built from it.
    """
    order = np.argsort(-scores, kind="stable")
    out_b, out_k, out_s = [], [], []
    while order.size:
        best = order[0]
        overlap = iou(boxes[best], boxes[order]) > iou_threshold
        overlap[0] = True
        group = order[overlap]
        weights = scores[group][:, None]
        total = weights.sum()
        out_b.append((boxes[group] * weights).sum(0) / total)
        out_k.append((keypoints[group] * weights[:, :, None]).sum(0) / total)
        out_s.append(scores[best])
        order = order[~overlap]
    if not out_s:
        return np.zeros((0, 4)), np.zeros((0, keypoints.shape[1], 2)), np.zeros((0,))
    return np.stack(out_b), np.stack(out_k), np.asarray(out_s)


class BlazeFace:
    """One BlazeFace model: image in, detections in original-image pixels out."""

    def __init__(self, name: ModelName, num_threads: int = 1, antialias_below: float = 0.5) -> None:
        self.name = name
        self.spec = SPECS[name]
        self.model = TfliteModel(self.spec.file, num_threads=num_threads)
        self.anchors = generate_anchors(self.spec.anchors)
        self.antialias_below = antialias_below
        self.memo: tuple[np.ndarray, dict] | None = None
        """(image, raw outputs per region): set by :class:`FaceDetector` for one call, so that
        the rescue's second look at lower thresholds reuses the model runs already made."""
        shapes = self.model.output_shapes()
        self._box_out = next(i for i, s in enumerate(shapes) if s[-1] == 4 + 2 * self.spec.num_keypoints)
        self._score_out = next(i for i, s in enumerate(shapes) if s[-1] == 1)
        if shapes[self._box_out][-2] != len(self.anchors) or self.model.input_size != self.spec.anchors.input_size:
            raise DeoccludeError(f"{self.spec.file} does not match its anchor options; reinstall deocclude")

    def __call__(self, image: np.ndarray, min_score: float | None = None,
                 region: RotatedSquare | None = None) -> list[FaceDetection]:
        """Faces in ``region`` of the image (default: the whole image, letterboxed)."""
        check_image(image)
        size = self.model.input_size
        region = region or letterbox(*image.shape[:2])
        key = (region.cx, region.cy, region.side, region.rotation)
        if self.memo is not None and self.memo[0] is image and key in self.memo[1]:
            outputs = self.memo[1][key]
        else:
            pixels = warp_to_tensor(image, region.to_tensor_matrix(size), size, cv2.BORDER_CONSTANT,
                                    self.antialias_below)
            outputs = self.model(pixels.astype(np.float32) * (2.0 / 255.0) - 1.0)
            if self.memo is not None and self.memo[0] is image:
                self.memo[1][key] = outputs
        threshold = self.spec.min_score if min_score is None else min_score
        boxes, kps, scores = decode(
            outputs[self._box_out], outputs[self._score_out], self.anchors, self.spec, threshold
        )
        boxes, kps, scores = weighted_nms(boxes, kps, scores, self.spec.nms_iou)
        back = region.from_tensor_matrix(size)  # regions here are never rotated: boxes stay boxes
        result = []
        for box, kp, score in zip(boxes, kps, scores):
            corners = apply_affine(back, box.reshape(2, 2) * size)
            points = apply_affine(back, kp * size).astype(np.float32)
            result.append(FaceDetection(float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]),
                                        float(corners[1, 1]), float(score), points, self.name))
        return result

    def tiled(self, image: np.ndarray, levels: int, min_score: float | None = None, min_tile: int = 384
              ) -> list[FaceDetection]:
        """The whole image, then ``levels`` finer levels of overlapping square tiles.

        BlazeFace full range needs a face to cover about 9% of its input, so in a big photo
        faces below ~9% of the long side are lost when it is shrunk to 192 px. Level k cuts
        the photo into tiles of side long/2^k overlapping by half (every face smaller than
        half a tile lies wholly inside one tile) and runs the model on each. Detections cut
        by an inner tile edge are dropped (the neighbouring tile holds the whole face);
        duplicates across levels are removed by :func:`suppress_duplicates`. Levels whose
        tiles would be smaller than ``min_tile`` px are skipped: at 384 px tiles already find
        faces of ~35 px, below what the mesh and a 128² aligned crop can use.
        """
        height, width = image.shape[:2]
        found = self(image, min_score)
        long_side = max(height, width)
        for level in range(1, levels + 1):
            tile = long_side / 2**level
            if tile < min_tile:
                break
            for x0 in _tile_starts(width, tile):
                for y0 in _tile_starts(height, tile):
                    region = RotatedSquare(x0 + tile / 2, y0 + tile / 2, tile)
                    inner = (x0 > 0, y0 > 0, x0 + tile < width, y0 + tile < height)
                    found += [f for f in self(image, min_score, region) if not _cut(f, x0, y0, tile, inner)]
        return suppress_duplicates(found)


def _tile_starts(length: int, tile: float) -> list[float]:
    """Evenly spaced tile origins along one axis, stride <= tile / 2, covering [0, length)."""
    if tile >= length:
        return [(length - tile) / 2.0]
    count = math.ceil((length - tile) / (tile / 2.0)) + 1
    return list(np.linspace(0.0, length - tile, count))


def _cut(face: FaceDetection, x0: float, y0: float, tile: float, inner: tuple[bool, bool, bool, bool]) -> bool:
    """Whether a detection in a tile touches one of the tile's edges that lie inside the photo."""
    margin = 0.02 * tile
    return ((inner[0] and face.x0 < x0 + margin) or (inner[1] and face.y0 < y0 + margin)
            or (inner[2] and face.x1 > x0 + tile - margin) or (inner[3] and face.y1 > y0 + tile - margin))


def suppress_duplicates(faces: list[FaceDetection], iou_threshold: float = 0.3, cover: float = 0.6,
                        rank: Callable[[FaceDetection], float] = lambda f: f.score,
                        max_size_ratio: float = 1.6) -> list[FaceDetection]:
    """Keep the best-ranked (default: best score) of detections that overlap (IoU > threshold,
    or the smaller box lies more than ``cover`` inside a bigger one of similar size): the same
    face seen by two models or two tiles.

    A box more than ``max_size_ratio`` times wider than one it contains is not the same
    face: short range, given a face too small for it, fires on a large area around it, and
    that box must not suppress the full-range face inside (the mesh's presence score later
    rejects the large box)."""
    kept: list[FaceDetection] = []
    for face in sorted(faces, key=lambda f: -rank(f)):
        if kept:
            boxes = np.stack([k.box for k in kept]).astype(np.float64)
            box = face.box.astype(np.float64)
            ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
            iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            area = face.width * face.height
            smaller = np.maximum(np.minimum(areas, area), 1e-9)
            similar = np.maximum(areas, area) / smaller < max_size_ratio**2
            if (iou(box, boxes) > iou_threshold).any() or ((ix * iy / smaller > cover) & similar).any():
                continue
        kept.append(face)
    return kept


@dataclass
class FaceDetector:
    """Find faces in an RGB uint8 image; returns detections sorted by score (best first).

    ``model``: "short", "full" (with tiles) or "auto" (see the module docstring).
    ``min_score``: None keeps MediaPipe's per-model thresholds (0.5 short, 0.6 full).
    With ``config.rescue`` (default) faces the models miss at those thresholds, or whose mesh
    is not present on MediaPipe's ROI (masked, sunglassed, cut-off faces), are looked for
    again with the same model(s) and added when the mesh on them is present
    (:mod:`deocclude.faces.rescue`); the faces found the ordinary way are returned unchanged.

    >>> faces = FaceDetector()(read_image("examples/astronaut.jpg"))
    >>> faces[0].box, faces[0].keypoints  # pixels of the original image
    """

    model: Literal["auto", "short", "full"] = "auto"
    min_score: float | None = None
    config: DetectorConfig = field(default_factory=DetectorConfig)
    trace: list[tuple[FaceDetection, str]] | None = field(default=None, repr=False)
    """Set to a list to collect where the rescue's candidates stopped (:data:`deocclude.faces.rescue.STAGES`),
    in the pixels of the photo the models saw (see ``max_pixels``): ``benchmarks/detect_occluded.py``."""
    _models: dict[str, BlazeFace] = field(default_factory=dict, init=False, repr=False)
    _mesh: FaceMesh | None = field(default=None, init=False, repr=False)
    _second: SecondOpinion | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.model not in ("auto", "short", "full"):
            raise DeoccludeError(f"unknown face detector model {self.model!r} (use auto, short or full)")

    def _get(self, name: ModelName) -> BlazeFace:
        if name not in self._models:  # build lazily: auto mode often never needs full range
            self._models[name] = BlazeFace(name, self.config.num_threads, self.config.antialias_below)
        return self._models[name]

    def __call__(self, image: np.ndarray) -> list[FaceDetection]:
        check_image(image)
        reduced, scale_x, scale_y = reduce_for_detection(image, self.config.max_pixels)
        if reduced is image:
            return self._find(image)
        return [scale_detection(face, scale_x, scale_y) for face in self._find(reduced)]

    def _find(self, image: np.ndarray) -> list[FaceDetection]:
        if not self.config.rescue:
            return self._detect(image)
        from deocclude.faces.rescue import rescue

        names: tuple[ModelName, ...] = ("short", "full") if self.model == "auto" else (self.model,)
        models = [self._get(name) for name in names]
        for m in models:
            m.memo = (image, {})
        try:
            faces = self._detect(image)
            second = self.second if self.config.rescue_second_opinion else None
            faces = faces + rescue(image, faces, self._get, self.mesh, self.config, names, second, self.trace)
        finally:
            for m in models:
                m.memo = None
        faces.sort(key=lambda f: -f.score)
        return faces[: self.config.max_faces] if self.config.max_faces else faces

    def _detect(self, image: np.ndarray) -> list[FaceDetection]:
        """The detections at the models' thresholds (the detector without the rescue)."""
        threshold = self.min_score
        if self.model == "short":
            faces = self._get("short")(image, threshold)
        elif self.model == "full":
            faces = self._get("full").tiled(image, self.config.tile_levels, threshold, self.config.min_tile)
        else:
            faces = self._get("short")(image, threshold)
            long_side = max(image.shape[:2])
            largest = max((f.width for f in faces), default=0.0)
            if largest < self.config.auto_full_below * long_side:
                full = self._get("full").tiled(image, self.config.tile_levels, threshold, self.config.min_tile)
                faces = merge_detections(faces, full, self.config.merge_iou, self.config.prefer_short)
        faces.sort(key=lambda f: -f.score)
        return faces[: self.config.max_faces] if self.config.max_faces else faces

    @property
    def mesh(self) -> FaceMesh:  # imported lazily: landmarks imports this module
        """The 468-point mesh the rescue checks its candidates with (MediaPipe's default ROI)."""
        if self._mesh is None:
            from deocclude.faces.landmarks import FaceMesh, MeshConfig

            self._mesh = FaceMesh(MeshConfig(num_threads=self.config.num_threads))
        return self._mesh

    @property
    def second(self) -> SecondOpinion:  # built lazily: only candidates the mesh is unsure of need it
        """The second detector the rescue asks about faces the mesh alone does not vouch for."""
        if self._second is None:
            from deocclude.faces.rfb import SecondOpinion

            self._second = SecondOpinion(num_threads=self.config.num_threads)
        return self._second


def reduce_for_detection(image: np.ndarray, max_pixels: int) -> tuple[np.ndarray, float, float]:
    """``image`` itself when it has at most ``max_pixels`` pixels, else one INTER_AREA-reduced copy of
    about that many; with the factors (x, y) that take the copy's coordinates back to the image's.

    Why: the rescue pads the photo by a quarter of its long side on every side and may mirror it,
    each a full copy (900 MB on an 80 MP photo, issue 19). The models never see more than 192 px
    of a letterbox or tile anyway (tiles stop at level 1 either way), so at 16 MP nothing they could
    find is lost; the 468-point mesh of the faces found still runs on the full photo (FaceFinder).
    """
    height, width = image.shape[:2]
    if max_pixels <= 0 or height * width <= max_pixels:
        return image, 1.0, 1.0
    factor = math.sqrt(max_pixels / (height * width))
    new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
    reduced = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return reduced, width / new_w, height / new_h


def scale_detection(face: FaceDetection, scale_x: float, scale_y: float) -> FaceDetection:
    """A detection of a reduced copy in the original image's pixels (coordinates scale with the image:
    MediaPipe's normalised coordinates × size)."""
    factors = np.array([scale_x, scale_y], np.float32)
    return FaceDetection(face.x0 * scale_x, face.y0 * scale_y, face.x1 * scale_x, face.y1 * scale_y, face.score,
                         (face.keypoints * factors).astype(np.float32), face.model)


def merge_detections(short: list[FaceDetection], full: list[FaceDetection], iou_threshold: float,
                     prefer_short: float) -> list[FaceDetection]:
    """The union of both models' detections without duplicates.

    For the same face the short-range box wins unless its score is more than
    ``prefer_short`` below the full-range one: its boxes are tighter, and they are what
    MediaPipe's face mesh graph builds its ROI from. Where a face is too small for short
    range, it tends to fire on a larger area with a low score, and the full-range face wins.
    """
    return suppress_duplicates(list(short) + list(full), iou_threshold,
                               rank=lambda f: f.score + (prefer_short if f.model == "short" else 0.0))

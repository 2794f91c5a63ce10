"""SSD anchors for MediaPipe's BlazeFace detectors.

A re-implementation of MediaPipe's ``SsdAnchorsCalculator`` with the options that its face
detection graphs use (``face_detection_short_range.pbtxt`` / ``face_detection_full_range.pbtxt``
in mediapipe 0.10). The models predict offsets relative to these anchors, so the anchor
order and positions must match the ones the models were trained with exactly; the anchor
counts (896 and 2304) are checked against the models' output shapes at load time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorOptions:
    """Options of MediaPipe's ``SsdAnchorsCalculatorOptions`` (only those the faces use)."""

    input_size: int
    strides: tuple[int, ...]
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True
    reduce_boxes_in_lowest_layer: bool = False


# face_detection_short_range.pbtxt: 4 layers, strides 8/16/16/16 -> 16x16x2 + 8x8x6 = 896.
SHORT_RANGE_ANCHORS = AnchorOptions(input_size=128, strides=(8, 16, 16, 16))
# face_detection_full_range.pbtxt: 1 layer, stride 4, no interpolated anchor -> 48x48 = 2304.
FULL_RANGE_ANCHORS = AnchorOptions(input_size=192, strides=(4,), interpolated_scale_aspect_ratio=0.0)


def _scale(options: AnchorOptions, index: int) -> float:
    n = len(options.strides)
    if n == 1:
        return (options.min_scale + options.max_scale) * 0.5
    return options.min_scale + (options.max_scale - options.min_scale) * index / (n - 1.0)


def generate_anchors(options: AnchorOptions) -> np.ndarray:
    """Anchors as an (N, 4) float32 array of (x_center, y_center, width, height), normalised.

    Same order as MediaPipe: layers grouped by equal stride, then rows, columns, anchors.
    """
    rows: list[tuple[float, float, float, float]] = []
    strides = options.strides
    layer = 0
    while layer < len(strides):
        sizes: list[tuple[float, float]] = []  # (width, height) per anchor of a cell
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            scale = _scale(options, last)
            if last == 0 and options.reduce_boxes_in_lowest_layer:
                pairs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
            else:
                pairs = [(scale, ratio) for ratio in options.aspect_ratios]
                if options.interpolated_scale_aspect_ratio > 0.0:
                    next_scale = 1.0 if last == len(strides) - 1 else _scale(options, last + 1)
                    pairs.append((math.sqrt(scale * next_scale), options.interpolated_scale_aspect_ratio))
            for s, ratio in pairs:
                root = math.sqrt(ratio)
                sizes.append((s * root, s / root))
            last += 1
        stride = strides[layer]
        cells = math.ceil(options.input_size / stride)
        for y in range(cells):
            for x in range(cells):
                cx = (x + options.anchor_offset) / cells
                cy = (y + options.anchor_offset) / cells
                for w, h in sizes:
                    rows.append((cx, cy, 1.0, 1.0) if options.fixed_anchor_size else (cx, cy, w, h))
        layer = last
    return np.asarray(rows, dtype=np.float32)

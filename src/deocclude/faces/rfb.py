"""A second face detector: faceplugin's ``fr_detect`` (the RFB-320 layout) in plain PyTorch.

Why a second detector: the rescue (:mod:`deocclude.faces.rescue`) keeps a masked face only when
evidence beyond BlazeFace says it is a face. The mesh's presence is that evidence for most faces,
but on masked faces it is often low or flips in the mirror although the mesh sits on the face. A
detector trained on other data by other people fails in other places, so its agreement with
BlazeFace's box and the mesh is independent evidence (:func:`deocclude.faces.rescue.rescue`).

The network (faceplugin-face-recognition-js 0.0.1, ``fr_detect.onnx``, MIT) is restated here layer
for layer from the exported graph (BatchNorm folded into the conv biases by the export), so the
converted weights (``tools/convert_faceplugin.py``) load without ONNX at run time. Input: RGB
320×240 (width × height), (pixel − 127) / 128; output per prior box (4,420 SSD priors over strides
8, 16, 32, 64): face probability and a corner box in [0, 1] of the input.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from deocclude.faces.detect import iou
from deocclude.model_file import NetworkFile
from deocclude.paths import WEIGHTS_DIR

RFB_BUNDLED = WEIGHTS_DIR / "face_detect_rfb_faceplugin.safetensors"
INPUT_W, INPUT_H = 320, 240
MIN_BOXES = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
"""Prior box sides (input px) per feature map of stride 8, 16, 32, 64 (the graph's 4,420 priors)."""
STRIDES = (8, 16, 32, 64)
CENTER_VARIANCE, SIZE_VARIANCE = 0.1, 0.2


def _dw(cin: int, cout: int, stride: int) -> nn.Sequential:
    """3×3 depthwise + ReLU, 1×1 pointwise + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin), nn.ReLU(),
                         nn.Conv2d(cin, cout, 1), nn.ReLU())


class ReceptiveField(nn.Module):
    """The graph's RFB block: three dilated branches (2, 3, 5) concatenated, a linear 1×1, plus a 1×1 shortcut."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        c = channels // 8
        self.branch0 = nn.Sequential(nn.Conv2d(channels, c, 1), nn.Conv2d(c, 2 * c, 3, 1, 1), nn.ReLU(),
                                     nn.Conv2d(2 * c, 2 * c, 3, 1, 2, dilation=2))
        self.branch1 = nn.Sequential(nn.Conv2d(channels, c, 1), nn.Conv2d(c, 2 * c, 3, 1, 1), nn.ReLU(),
                                     nn.Conv2d(2 * c, 2 * c, 3, 1, 3, dilation=3))
        self.branch2 = nn.Sequential(nn.Conv2d(channels, c, 1), nn.Conv2d(c, c * 3 // 2, 3, 1, 1), nn.ReLU(),
                                     nn.Conv2d(c * 3 // 2, 2 * c, 3, 1, 1), nn.ReLU(),
                                     nn.Conv2d(2 * c, 2 * c, 3, 1, 5, dilation=5))
        self.linear = nn.Conv2d(6 * c, channels, 1)
        self.shortcut = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)
        return torch.relu(self.linear(y) + self.shortcut(x))


def _head(channels: int, outputs: int) -> nn.Sequential:
    """3×3 depthwise + ReLU, 1×1 to ``outputs`` (the first three feature maps' heads)."""
    return nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, groups=channels), nn.ReLU(),
                         nn.Conv2d(channels, outputs, 1))


class RfbDetector(nn.Module):
    """faceplugin's ``fr_detect`` network. Conv modules are registered in the graph's node order
    (the converter relies on it): (B, 3, 240, 320) -> scores (B, 4420, 2), boxes (B, 4420, 4)."""

    priors: torch.Tensor  # (4420, 4) cx, cy, w, h: a buffer, not in the weights file

    def __init__(self) -> None:
        super().__init__()
        self.stage0 = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), _dw(16, 32, 1), _dw(32, 32, 2), _dw(32, 32, 1), _dw(32, 64, 2),
            _dw(64, 64, 1), _dw(64, 64, 1), ReceptiveField(64))
        self.cls0, self.reg0 = _head(64, 6), _head(64, 12)
        self.stage1 = nn.Sequential(_dw(64, 128, 2), _dw(128, 128, 1), _dw(128, 128, 1))
        self.cls1, self.reg1 = _head(128, 4), _head(128, 8)
        self.stage2 = nn.Sequential(_dw(128, 256, 2), _dw(256, 256, 1))
        self.cls2, self.reg2 = _head(256, 4), _head(256, 8)
        self.stage3 = nn.Sequential(nn.Conv2d(256, 64, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, 2, 1, groups=64), nn.ReLU(),
                                    nn.Conv2d(64, 256, 1), nn.ReLU())
        self.cls3, self.reg3 = nn.Conv2d(256, 6, 3, 1, 1), nn.Conv2d(256, 12, 3, 1, 1)
        self.register_buffer("priors", torch.from_numpy(priors()), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, 240, 320) normalised input -> face/background probabilities, corner boxes in [0, 1]."""
        logits, locs = [], []
        for stage, cls, reg in ((self.stage0, self.cls0, self.reg0), (self.stage1, self.cls1, self.reg1),
                                (self.stage2, self.cls2, self.reg2), (self.stage3, self.cls3, self.reg3)):
            x = stage(x)
            logits.append(cls(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 2))
            locs.append(reg(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4))
        loc = torch.cat(locs, 1)
        centre = loc[..., :2] * CENTER_VARIANCE * self.priors[:, 2:] + self.priors[:, :2]
        size = torch.exp(loc[..., 2:] * SIZE_VARIANCE) * self.priors[:, 2:]
        return torch.softmax(torch.cat(logits, 1), -1), torch.cat([centre - size / 2, centre + size / 2], -1)


def priors() -> np.ndarray:
    """(4420, 4) float32 prior boxes (cx, cy, w, h) in [0, 1] of the 320×240 input, in the graph's order:
    per feature map, rows, then columns, then sizes. As in the export's constants, centres are cell
    centres of the (rounded-up) feature map and sizes are clipped to 1."""
    out = []
    for stride, sides in zip(STRIDES, MIN_BOXES):
        cols, rows = math.ceil(INPUT_W / stride), math.ceil(INPUT_H / stride)
        for row, col in itertools.product(range(rows), range(cols)):
            for side in sides:
                out.append(((col + 0.5) / cols, (row + 0.5) / rows, side / INPUT_W, side / INPUT_H))
    return np.clip(np.asarray(out, np.float32), 0.0, 1.0)


# converted from ONNX, not trained: one fixed architecture (no config) and its source in the metadata
RFB_FILE: NetworkFile[RfbDetector] = NetworkFile("second face detector", None, RfbDetector, None, RFB_BUNDLED)


@dataclass
class SecondOpinion:
    """``SecondOpinion()(image, box) -> score``: how sure the second detector is of a face at ``box``.

    The network sees a window centred on the box, 4:3 like its input, ``context`` × the box's side
    high but never less than the input's 240 px: the photo is only ever shrunk into the window, never
    enlarged. (Enlarged 35 px boxes in big photos scored 0.96-0.99 on a drawn fist, a paper
    decoration and a hand holding a bag, RMFD ``0022_*``: interpolated blobs pass for faces.) Pixels
    of the window outside the photo are black. The score is the best face probability among the
    network's boxes that overlap ``box`` by IoU ``min_iou`` or more (0.0 when none does).
    """

    path: Path = RFB_BUNDLED
    context: float = 3.0
    min_iou: float = 0.4
    num_threads: int = 1
    _net: RfbDetector | None = field(default=None, init=False, repr=False)

    @property
    def net(self) -> RfbDetector:
        """The network, loaded on first use (a missing file: :class:`~deocclude.errors.WeightsNotFoundError`)."""
        if self._net is None:
            self._net = RFB_FILE.load(self.path)[0]
        return self._net

    def __call__(self, image: np.ndarray, box: np.ndarray) -> float:
        """``image`` RGB uint8 H×W×3, ``box`` (x0, y0, x1, y1) in its pixels."""
        x0, y0, x1, y1 = (float(v) for v in box)
        win_h = round(max(max(x1 - x0, y1 - y0) * self.context, float(INPUT_H)))
        win_w = round(win_h * INPUT_W / INPUT_H)
        left, top = round((x0 + x1 - win_w) / 2), round((y0 + y1 - win_h) / 2)
        window = np.zeros((win_h, win_w, 3), np.uint8)
        h, w = image.shape[:2]
        ix0, iy0, ix1, iy1 = max(left, 0), max(top, 0), min(left + win_w, w), min(top + win_h, h)
        if ix1 > ix0 and iy1 > iy0:
            window[iy0 - top:iy1 - top, ix0 - left:ix1 - left] = image[iy0:iy1, ix0:ix1]
        pixels = cv2.resize(window, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().sub(127.0).div(128.0)
        threads = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            with torch.inference_mode():
                scores, boxes = self.net(x)
        finally:
            torch.set_num_threads(threads)
        found = boxes[0].numpy().astype(np.float64) * [win_w, win_h, win_w, win_h] + [left, top, left, top]
        overlap = iou(np.array([x0, y0, x1, y1]), found) >= self.min_iou
        return float(scores[0, :, 1].numpy()[overlap].max(initial=0.0))

"""68 face landmarks from a face box: faceplugin's ``fr_landmark`` in plain PyTorch.

Why a second landmark source: MediaPipe's 468-point mesh puts its points on a face mask and then
says "no face" (presence < 0.05) on many real masked faces (RMFD: 44 of the photos the detector
finds), so those faces were dropped. This small network, trained elsewhere on 68-point
annotations, regresses the points from the box alone and keeps the eyes, brows and nose where
they are when a mask hides the mouth (bundled masked example: eye centres within 1.9 px of the
mesh's, eye distance 40 px). :mod:`deocclude.faces.refit` aligns a masked face with it.

The network (faceplugin-face-recognition-js 0.0.1, ``fr_landmark.onnx``, MIT) is restated layer for
layer from the exported graph: a MobileNetV2-like stack of inverted residuals on a 64×64 grey crop
(values / 255), ending in a 4×4 depthwise conv, a linear layer and a BatchNorm; output 68 (x, y)
in [0, 1] of the crop, in the iBUG-300W order (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
48-67 mouth). Converted by ``tools/convert_faceplugin.py --model landmark``.

The crop: the detection box's centre, a square of ``BOX_SCALE`` × its larger side (the framing at
which the bundled examples' eye error is smallest: 0.6 px clean, 1.9 px masked at 1.2; 0.7 / 2.6 at
1.0; 0.9 / 2.1 at 1.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from deocclude.faces.align import to_opencv
from deocclude.model_file import NetworkFile
from deocclude.paths import WEIGHTS_DIR

LANDMARK68_BUNDLED = WEIGHTS_DIR / "face_landmark68_faceplugin.safetensors"
INPUT_SIZE = 64
BOX_SCALE = 1.2
RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))
"""The eye contours (right/left from the person's view, image left/right in a frontal photo)."""
MIRROR = (*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1),
          45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
          54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65)
"""Point i of a mirrored face is point ``MIRROR[i]`` of the face (the iBUG-300W left/right pairs)."""


class InvertedResidual(nn.Module):
    """1×1 expand + ReLU, 3×3 depthwise (stride) + ReLU, 1×1 project (linear); + input when the shapes allow."""

    def __init__(self, cin: int, hidden: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.expand = nn.Conv2d(cin, hidden, 1)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(torch.relu(self.depthwise(torch.relu(self.expand(x)))))
        return x + y if self.residual else y


class Landmark68Net(nn.Module):
    """(B, 1, 64, 64) grey in [0, 1] -> (B, 68, 2) points in [0, 1] of the crop."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 32, 3, 2, 1)
        self.stem_depthwise = nn.Conv2d(32, 32, 3, 1, 1, groups=32)
        blocks = [InvertedResidual(32, 64, 32, 2)] + [InvertedResidual(32, 64, 32) for _ in range(3)]
        blocks += [InvertedResidual(32, 128, 64, 2)] + [InvertedResidual(64, 128, 64) for _ in range(4)]
        blocks += [InvertedResidual(64, 256, 64, 2)] + [InvertedResidual(64, 128, 64) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(64, 512, 1)
        self.pool = nn.Conv2d(512, 512, 4, groups=512)  # 4×4 -> 1×1
        self.fc = nn.Linear(512, 136)
        self.norm = nn.BatchNorm1d(136)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem_depthwise(torch.relu(self.stem(x))))
        x = torch.relu(self.head(self.blocks(x)))
        return self.norm(self.fc(self.pool(x).flatten(1))).view(-1, 68, 2)


# converted from ONNX, not trained: one fixed architecture (no config) and its source in the metadata
LANDMARK68_FILE: NetworkFile[Landmark68Net] = NetworkFile("68-point landmarks", None, Landmark68Net, None,
                                                          LANDMARK68_BUNDLED)


@dataclass
class Landmarks68:
    """``Landmarks68()(photo, box) -> (68, 2)`` float64 points in photo pixels for the face in ``box``
    (x0, y0, x1, y1). Pixels of the crop outside the photo are black, as the exported graph's users feed it."""

    path: Path = LANDMARK68_BUNDLED
    num_threads: int = 1
    _net: Landmark68Net | None = field(default=None, init=False, repr=False)

    @property
    def net(self) -> Landmark68Net:
        """The network, loaded on first use (a missing file: :class:`~deocclude.errors.WeightsNotFoundError`)."""
        if self._net is None:
            self._net = LANDMARK68_FILE.load(self.path)[0].eval()
        return self._net

    def __call__(self, photo: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (float(v) for v in box)
        side = max(x1 - x0, y1 - y0) * BOX_SCALE
        left, top = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
        scale = INPUT_SIZE / side
        matrix = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]])  # +0.5 pixel centres both sides
        crop = cv2.warpAffine(photo, to_opencv(matrix), (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        threads = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            with torch.inference_mode():
                points = self.net(torch.from_numpy(grey)[None, None].float())[0].double().numpy()
        finally:
            torch.set_num_threads(threads)
        return points * side + [left, top]

    def mirror_disagreement(self, photo: np.ndarray, box: np.ndarray, points: np.ndarray | None = None) -> float:
        """Mean distance, in eye distances, between the points on ``box`` and the points on the mirrored photo's
        box mirrored back. A face looks like a face in a mirror: on 48 clean LFW faces 0.01-0.04; on an ear, a
        cheek in profile, a bag or the back of a head 0.3-0.7 (the network still draws a face there, each time
        a different one). ``points``: the points on ``box`` when already computed."""
        points = self(photo, box) if points is None else points
        width = photo.shape[1]
        x0, y0, x1, y1 = (float(v) for v in box)
        mirrored = self(np.ascontiguousarray(photo[:, ::-1]), np.array([width - x1, y0, width - x0, y1]))
        mirrored[:, 0] = width - mirrored[:, 0]
        mirrored = mirrored[list(MIRROR)]
        eyes = float(np.linalg.norm(points[list(RIGHT_EYE)].mean(0) - points[list(LEFT_EYE)].mean(0)))
        return float(np.linalg.norm(points - mirrored, axis=1).mean() / max(eyes, 1.0))


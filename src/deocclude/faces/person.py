"""Person vs background around a face: MediaPipe's selfie segmentation, in the crop's frame.

Why: the 468-point mesh can land beside a face (profiles, blur). Then M_R covers the wall
behind the person, S calls that "not face", M_O lands on the background and the fill paints
a ghost face there (wild ``t1``, issue 15). The person mask is an independent witness: a
face whose occlusion mask or face surface lies mostly on the background is left untouched.

The model (``selfie_segmentation.tflite``, Apache-2.0, from the ``mediapipe==0.10.21`` wheel,
vendored by ``tools/vendor_mediapipe.py``) takes a 256×256 RGB frame in [0, 1] and returns
P(person) per pixel. It was trained on selfie framing (head and shoulders), so it is run on
a frame ``frame_scale`` times the aligned crop's side, centred on the crop, at the crop's
rotation, and its output is warped back into the crop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from deocclude.faces.align import to_opencv
from deocclude.faces.tflite import TfliteModel

PERSON_MODEL = "selfie_segmentation.tflite"


@dataclass
class PersonSegmenter:
    """``PersonSegmenter()(photo, matrix, size) -> (size, size) float32 P(person)`` in the crop."""

    frame_scale: float = 2.0
    """Side of the frame the model sees, in aligned-crop sides (2 ≈ head and shoulders)."""
    num_threads: int = 1
    _model: TfliteModel | None = field(default=None, init=False, repr=False)

    @property
    def model(self) -> TfliteModel:
        if self._model is None:
            self._model = TfliteModel(PERSON_MODEL, num_threads=self.num_threads)
        return self._model

    def __call__(self, photo: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
        """P(person) on the aligned crop's N×N grid.

        ``photo`` (H, W, 3) uint8 RGB; ``matrix`` (2, 3) photo → crop (``AlignedFace.matrix``);
        ``size`` = N. Pixels of the frame outside the photo are replicated from its border.
        """
        side = self.model.input_size
        scale = side / (self.frame_scale * size)
        crop_to_frame = np.array([[scale, 0.0, side / 2 - scale * size / 2],
                                  [0.0, scale, side / 2 - scale * size / 2]])
        photo_to_frame = crop_to_frame @ np.vstack([np.asarray(matrix, np.float64), [0.0, 0.0, 1.0]])
        frame = cv2.warpAffine(photo, to_opencv(photo_to_frame), (side, side), flags=cv2.INTER_AREA
                               if scale < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        probability = self.model(frame.astype(np.float32) * (1.0 / 255.0))[0][..., 0]
        # frame -> crop: sample the frame at crop_to_frame(c) for every crop pixel c
        return cv2.warpAffine(probability.astype(np.float32), to_opencv(crop_to_frame), (size, size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)

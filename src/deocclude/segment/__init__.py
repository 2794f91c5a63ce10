"""S: visible-face segmentation (METHOD.md §3).

``segment(images, device=...)`` gives the visible-face probability M_F of aligned face
crops; threshold at 0.5. The occlusion mask is M_O = M_R ⊙ (1 − M_F).
"""

from deocclude.segment.inference import DEFAULT_WEIGHTS, Segmenter, load_segmenter, segment
from deocclude.segment.model import AnySize, UNet, UNetConfig

__all__ = ["DEFAULT_WEIGHTS", "AnySize", "Segmenter", "UNet", "UNetConfig", "load_segmenter", "segment"]

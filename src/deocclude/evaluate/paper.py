"""The paper's Table 1 (docs/method.md §7), printed beside ours and never mixed with it.

Their numbers come from different data (their own 1,000 faces with sunglasses at 256×256),
a different identity network (ArcFace; ours is dlib-ResNet, whose cosines run much higher)
and hand-labelled masks, so they are a reference point, not a row to beat number by number.
"""

from __future__ import annotations

PAPER_NOTE = (
    "docs/method.md §7: their own 1,000 faces with sunglasses at 256×256, ArcFace identity (ours: dlib-ResNet), "
    "their hand-labelled masks; not comparable number by number"
)

PAPER_TABLE1: dict[str, dict[str, float]] = {
    "LaFIn": {"l1": 0.067, "ssim": 0.607, "psnr": 27.944, "id_cos": 0.639},
    "PICNet": {"l1": 0.0654, "ssim": 0.604, "psnr": 28.137, "id_cos": 0.615},
    "DeepFill v2": {"l1": 0.065, "ssim": 0.604, "psnr": 28.105, "id_cos": 0.659},
    "ours w/o SSIM loss": {"l1": 0.065, "ssim": 0.619, "psnr": 28.491, "id_cos": 0.665},
    "ours": {"l1": 0.062, "ssim": 0.623, "psnr": 28.902, "id_cos": 0.690},
}
"""Method → L1, SSIM, PSNR, ID cos. The mask-based baselines were given the labelled mask;
"ours" found the mask on its own (the paper's automatic setting)."""

"""Compute the canonical alignment template from the UTKFace training landmarks.

The template is the mean of the `train` faces' 468 MediaPipe landmarks, normalised by the
200-px crop size, so that aligning a UTKFace crop to the template at size N reproduces
almost the crop's own framing (the training data needs no re-framing, and user photos are
framed like the training data). Stored as ``src/deocclude/faces/assets/canonical_template.npy``
(468×3 float32, x/y/z divided by 200; pixel centres at +0.5 as in landmarks.npz).

Usage:  python tools/make_template.py   (reads $DEOCCLUDE_DATA, default ../shared/data)
"""

from __future__ import annotations

import csv

import numpy as np

from deocclude.paths import ASSETS_DIR, utkface_root

CROP_SIZE = 200.0


def main() -> None:
    root = utkface_root()
    lm = np.load(root / "landmarks.npz")
    with open(root / "index.csv", newline="") as f:
        split = {row["file"]: row["split"] for row in csv.DictReader(f)}
    train = np.array([split[str(n)] == "train" for n in lm["names"]])
    template = lm["points"][train].astype(np.float64).mean(axis=0) / CROP_SIZE
    out = ASSETS_DIR / "canonical_template.npy"
    np.save(out, template.astype(np.float32))
    print(f"{out}: mean of {train.sum()} train faces; x range {template[:, 0].min():.3f}..{template[:, 0].max():.3f}, "
          f"y range {template[:, 1].min():.3f}..{template[:, 1].max():.3f}")


if __name__ == "__main__":
    main()

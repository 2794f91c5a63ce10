"""Round trip of the faces path: detect → align → paste back an *unedited* crop.

For each face, the photo after pasting back must equal the original wherever the blend
mask is 1 (PSNR > 40 dB is the bar; the detail-preserving paste makes it lossless up to
rounding). Measured on the bundled astronaut and, when present, the shared wild photos,
at crop sizes 128 and 256.

Usage: PYTHONPATH=src python benchmarks/faces_roundtrip.py
Writes benchmarks/results/faces_roundtrip.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from deocclude.faces.align import align_face, invert_affine, to_opencv
from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.faces.paste_back import paste_back
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR, data_root

RESULTS = REPO_DIR / "benchmarks" / "results" / "faces_roundtrip.json"


def photos() -> list[Path]:
    found = [REPO_DIR / "examples" / "astronaut.jpg"]
    wild = data_root() / "wild"
    if wild.is_dir():
        found += sorted(p for p in wild.rglob("*.jpg"))
    return found


def psnr_inside(photo: np.ndarray, out: np.ndarray, aligned, size: int) -> float:
    inside = cv2.warpAffine(np.ones((size, size), np.float32), to_opencv(invert_affine(aligned.matrix)),
                            photo.shape[1::-1], flags=cv2.INTER_LINEAR) > 0.999
    mse = float(np.mean((out[inside].astype(np.float64) - photo[inside]) ** 2)) if inside.any() else 0.0
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _db(value: float) -> float | str:
    """JSON has no infinity: a lossless round trip is written as "inf"."""
    return "inf" if np.isinf(value) else round(value, 2)


def main() -> None:
    detector, mesh = FaceDetector(), FaceMesh()
    values: dict[int, list[float]] = {128: [], 256: []}
    for path in photos():
        photo = read_image(path)
        for face in (m for m in mesh(photo, detector(photo)) if m.present):
            for size in values:
                aligned = align_face(photo, face.points, size)
                out = paste_back(photo, aligned, aligned.crop, np.ones((size, size), np.float32))
                values[size].append(psnr_inside(photo, out, aligned, size))
    summary = {
        "command": "PYTHONPATH=src python benchmarks/faces_roundtrip.py",
        "photos": len(photos()),
        **{
            f"size_{size}": {
                "faces": len(v),
                "min_psnr_db": _db(min(v)),
                "median_psnr_db": _db(float(np.median(v))),
                "share_lossless": float(np.mean(np.isinf(v))),
            }
            for size, v in values.items()
        },
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

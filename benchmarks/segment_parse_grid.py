"""Look at the parser's classes on real photos: aligned crop | argmax classes over it.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/segment_parse_grid.py \
        --weights runs/parser/final/weights.safetensors --out /tmp/parse_grid

Photos go through the faces path as ``deocclude segment`` does (detect → mesh → align).
Colours: face green, hair orange, other red. One PNG per source (wild, LFW, RMFD masked),
a fixed sample (the first files in sorted order). The PNGs show research-only photos:
write them outside the repository and never commit them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from deocclude.imageio import read_image
from deocclude.paths import data_root
from deocclude.segment.inference import DEFAULT_WEIGHTS, Segmenter

COLOURS = np.array([[0, 200, 0], [255, 150, 0], [230, 0, 0]], np.float32)  # face, hair, other


def faces_of(photo: np.ndarray, detector, mesh, size: int) -> list[np.ndarray]:  # noqa: ANN001 - faces objects
    from deocclude.faces.align import align_face

    return [align_face(photo, lm.points, size).crop for lm in mesh(photo, detector(photo)) if lm.present]


def overlay(crop: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Argmax class colour blended 50 % over the crop."""
    colour = COLOURS[probs.argmax(0)]
    return (0.5 * crop.astype(np.float32) + 0.5 * colour).astype(np.uint8)


def main() -> int:
    from deocclude.faces.detect import FaceDetector
    from deocclude.faces.landmarks import FaceMesh

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-source", type=int, default=16)
    args = p.parse_args()
    root = data_root()
    sources = {
        "wild": sorted((root / "wild").rglob("*.jpg")),
        "lfw": sorted((root / "faces/lfw/images").rglob("*.jpg"))[::97],
        "rmfd": sorted((root / "real_occluded/rmfd").rglob("*.jpg"))
        + sorted((root / "real_occluded/rmfd").rglob("*.png")),
    }
    seg, detector, mesh = Segmenter(args.weights), FaceDetector(), FaceMesh()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, files in sources.items():
        tiles = []
        for f in files:
            for crop in faces_of(read_image(f), detector, mesh, 128)[:1]:
                tiles.append(np.concatenate([crop, overlay(crop, seg.parse(crop))], axis=1))
            if len(tiles) >= args.per_source:
                break
        rows = [
            np.concatenate(tiles[i : i + 4] + [np.zeros_like(tiles[0])] * (4 - len(tiles[i : i + 4])), axis=1)
            for i in range(0, len(tiles), 4)
        ]
        cv2.imwrite(str(args.out / f"{name}.png"), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
        print(name, len(tiles), "faces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

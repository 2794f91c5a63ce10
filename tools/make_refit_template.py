"""Compute the template R's refit of masked faces aligns with (deocclude/faces/refit.py).

Where the 68 landmarks of faceplugin's network (deocclude/faces/landmarks68.py) fall in the canonical
crop, on average: for each face, the network's points on the detection's box, mapped into the crop
that the 468-point mesh aligns. Aligning a masked face's brows, eyes and nose onto these positions
frames it as the mesh would have (the mesh itself fails on many masked faces). In units of the crop
side, like ``canonical_template.npy``.

Measured on clean LFW photos (the first photo of people 300-1299 sorted by name;
``benchmarks/detect_occluded.py`` uses the first 300) whose largest detection has a present mesh.

Usage:  python tools/make_refit_template.py [--first 300] [--people 1000]   (reads $DEOCCLUDE_DATA)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deocclude.faces.align import align_face, warp_points
from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.faces.landmarks68 import Landmarks68
from deocclude.faces.refit import TEMPLATE_FILE
from deocclude.imageio import read_image
from deocclude.paths import data_root

SIZE = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=300, help="skip the first N people (benchmarks use them)")
    parser.add_argument("--people", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    lfw = data_root() / "faces" / "lfw" / "images"
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[args.first:args.first + args.people]
    detector, mesh, landmarks = FaceDetector(), FaceMesh(), Landmarks68()
    points = []
    start = time.time()
    for folder in people:
        photo = read_image(min(folder.iterdir()))
        detections = detector(photo)
        if not detections:
            continue
        detection = max(detections, key=lambda d: d.width * d.height)
        marks = mesh(photo, [detection])[0]
        if not marks.present:
            continue
        aligned = align_face(photo, marks.points, SIZE)
        points.append(warp_points(aligned.matrix, landmarks(photo, detection.box)) / SIZE)
    stack = np.stack(points)
    template = stack.mean(0)
    np.save(TEMPLATE_FILE, template.astype(np.float32))
    spread = np.linalg.norm(stack - template, axis=-1).mean(0) * SIZE
    print(f"{TEMPLATE_FILE}: mean of {len(stack)} faces of {len(people)} people in {time.time() - start:.0f} s; "
          f"mean distance to it at {SIZE} px: {spread.mean():.2f}")


if __name__ == "__main__":
    main()

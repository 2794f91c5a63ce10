"""docs/realistic_occluders.png: the realistic synthetic occluders (surgical_mask, kn95_mask, thin_glasses).

Usage:  DEOCCLUDE_DATA=... PYTHONPATH=src python tools/make_realistic_occluders_figure.py [--faces out/x.png]

Per kind, held-out (``split="test"``) draws as the ``facemask`` protocol makes them:

- one row of 8 on the public-domain astronaut, aligned at N = 128 as the pipeline sees a face;
- two rows of 8 (16 in all) on the landmarks of the first UTKFace test faces, drawn zoomed out (face at 0.65
  of the crop) so the band under the jaw and the ear loops / temples show. UTKFace pictures may not be shipped
  (shared data README), so these rows show the occluder over a sketch of the face (outline, eyes, brows,
  nose, lips from the landmarks), never its pixels.

``--faces PNG`` also writes the same draws on the UTKFace test faces themselves (for looking at, next to real
masked photos; keep it out of the repository, e.g. under the git-ignored out/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from deocclude.paths import REPO_DIR
from deocclude.synth import OcclusionSynthesizer, SynthConfig
from deocclude.synth.config import REALISTIC_CATEGORIES
from deocclude.synth.geometry import FACE_OVAL, LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE

N = 128
SEED = 20261125
LABEL_W = 104
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327)


def sketch(landmarks: np.ndarray) -> np.ndarray:
    """A light line drawing of the face from its landmarks (no pixels of the photo)."""
    img = np.full((N, N, 3), 0.55, np.float32)
    pts = np.round((landmarks[:, :2] - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(img, [pts[list(FACE_OVAL)]], (0.78, 0.7, 0.64), cv2.LINE_AA, 4)
    for part, closed in ((FACE_OVAL, True), (LEFT_EYE, True), (RIGHT_EYE, True), (LEFT_BROW, False),
                         (RIGHT_BROW, False), (LIPS, True), (NOSE[:6], False)):
        cv2.polylines(img, [pts[list(part)]], closed, (0.35, 0.3, 0.28), 1, cv2.LINE_AA, 4)
    return img


def zoom_out(landmarks: np.ndarray, scale: float = 0.65) -> np.ndarray:
    out = landmarks.copy()
    out[:, :2] = (landmarks[:, :2] - N / 2) * scale + [N / 2, N / 2 - 6]
    return out


def astronaut() -> tuple[np.ndarray, np.ndarray]:
    from deocclude.faces.find import FaceFinder
    from deocclude.imageio import read_image

    face = FaceFinder(N).largest_face(read_image(REPO_DIR / "examples" / "astronaut.jpg"))
    return face.aligned.crop.astype(np.float32) / 255.0, face.aligned.landmarks


def labelled(row: np.ndarray, text: str) -> np.ndarray:
    label = np.full((row.shape[0], LABEL_W, 3), 255, np.uint8)
    for i, line in enumerate(text.split("\n")):
        cv2.putText(label, line, (4, 20 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([label, row], axis=1)


def u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_DIR / "docs" / "realistic_occluders.png")
    parser.add_argument("--faces", type=Path, default=None, help="also the draws on the UTKFace faces themselves")
    args = parser.parse_args()
    from deocclude.data import UTKFaceFaces

    faces = UTKFaceFaces(split="test", size=N)
    synth = OcclusionSynthesizer(SynthConfig(categories=REALISTIC_CATEGORIES), split="test")
    a_img, a_lm = astronaut()
    rows, face_rows = [], []
    for ci, cat in enumerate(REALISTIC_CATEGORIES):
        cells = [synth(a_img, a_lm, np.random.default_rng([SEED, ci, 100 + j]), cat).image for j in range(8)]
        rows.append(labelled(u8(np.concatenate(cells, 1)), f"{cat}\nastronaut"))
        sketches, photos = [], []
        for j in range(16):
            item = faces[j]
            lm = item["landmarks"].numpy()
            rng = [SEED, ci, j]
            lm_out = zoom_out(lm)
            sketches.append(synth(sketch(lm_out), lm_out, np.random.default_rng(rng), cat).image)
            if args.faces:
                photos.append(synth(item["image"].permute(1, 2, 0).numpy(), lm, np.random.default_rng(rng), cat).image)
        for half in (0, 1):
            rows.append(labelled(u8(np.concatenate(sketches[8 * half: 8 * half + 8], 1)),
                                 f"{cat}\nUTKFace test\nlandmarks {8 * half}-{8 * half + 7}"))
        if args.faces:
            face_rows.append(labelled(u8(np.concatenate(photos, 1)), cat))
    grid = np.concatenate(rows, 0)
    grid[[r * N for r in range(1, len(rows))]] = 255
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # an adaptive palette keeps the picture small enough for the repository
    Image.fromarray(grid).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        args.out, optimize=True)
    print(f"{args.out}: {grid.shape[1]}x{grid.shape[0]}, {args.out.stat().st_size // 1024} KB")
    if args.faces:
        args.faces.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.faces), cv2.cvtColor(np.concatenate(face_rows, 0), cv2.COLOR_RGB2BGR))
        print(f"{args.faces} (UTKFace pixels: keep it out of the repository)")


if __name__ == "__main__":
    main()

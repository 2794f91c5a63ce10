"""Faces and grid layout for looking at synthetic occlusions (used by ``deocclude synth``)."""

from __future__ import annotations

import cv2
import numpy as np

LABEL_W = 96


def preview_faces(count: int, size: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """``count`` aligned faces (image float (N, N, 3), landmarks (468, 3)) and where they came from.

    UTKFace ``val`` faces when the shared data is there; else the bundled astronaut photo
    through our own detector and landmark model; else a clear error.
    """
    from deocclude.paths import REPO_DIR, utkface_root

    root = utkface_root()
    if (root / "landmarks.npz").is_file() and (root / "index.csv").is_file():
        from deocclude.data.utkface import align_sample, read_index

        rows = [r for r in read_index(root) if r["split"] == "val"]
        lm = np.load(root / "landmarks.npz")
        pos = {n: i for i, n in enumerate(lm["names"].tolist())}
        pick = np.random.default_rng(0).choice(len(rows), size=min(count, len(rows)), replace=False)
        faces = []
        for k in pick:
            name = rows[int(k)]["file"]
            img = cv2.imread(str(root / "images" / name), cv2.IMREAD_COLOR)
            if img is None:
                continue
            a = align_sample(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), None, lm["points"][pos[name]], size)
            faces.append((a["image"].astype(np.float32) / 255.0, a["landmarks"]))
        return faces, f"UTKFace val ({root})"
    from deocclude.faces.find import FaceFinder
    from deocclude.imageio import read_image

    aligned = FaceFinder(size).largest_face(read_image(REPO_DIR / "examples" / "astronaut.jpg")).aligned
    face = (aligned.crop.astype(np.float32) / 255.0, aligned.landmarks)
    return [face] * count, "examples/astronaut.jpg"


def render_grid(rows: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> np.ndarray:
    """uint8 RGB grid: per category a row of occluded images over a row of their alpha."""
    blocks = []
    for cat, cells in rows.items():
        top = np.concatenate([c[0] for c in cells], axis=1)
        bottom = np.concatenate([np.repeat(c[1][..., None], 3, axis=2) for c in cells], axis=1)
        block = np.concatenate([top, bottom], axis=0)
        block = (np.clip(block, 0, 1) * 255 + 0.5).astype(np.uint8)
        label = np.full((block.shape[0], LABEL_W, 3), 255, np.uint8)
        cv2.putText(label, cat, (4, block.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        block = np.concatenate([label, block], axis=1)
        block[-1] = 255  # a separating line between categories
        blocks.append(block)
    return np.concatenate(blocks, axis=0)

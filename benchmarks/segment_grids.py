"""Pictures of S at work, to look at (never commit them: UTKFace / wild photos).

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/segment_grids.py [--weights W] [-o out/segment]

- ``val_grid.png``: val faces with held-out (``split="test"``) occluders. Columns: clean |
  S on clean | occluded | target M_F' | S on occluded | implied occlusion M_O (red).
- ``hard_grid.png`` (with ``--hard mining.json``): the faces S disagrees with most.
- ``wild_grid.png``: wild photos through detect → landmarks → align → S. Columns per face:
  aligned crop | visible face (green) and M_O = mesh ⊙ (1 − M_F) (red).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from deocclude.imageio import read_image, write_image
from deocclude.paths import data_root
from deocclude.segment.inference import DEFAULT_WEIGHTS, S_FILE, Segmenter
from deocclude.visualize import labelled_grid, overlay_mask


def val_grid(weights: Path, count: int) -> np.ndarray:
    from deocclude.segment.config import SegmentTrainConfig
    from deocclude.segment.task import SegmentTask

    net, info = S_FILE.load(weights)
    size = info.size
    task = SegmentTask(SegmentTrainConfig(size=size, model=net.config))
    val = task.val_dataset()
    picks = np.linspace(0, len(val) - 1, count).astype(int)
    batch = torch.utils.data.default_collate([val[int(i)] for i in picks])
    with torch.no_grad():
        parts = [task.grid({"net": net}, {k: v[i : i + 8] for k, v in batch.items()}) for i in range(0, count, 8)]
    return np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]


def wild_grid(weights: Path, count: int) -> np.ndarray:
    from deocclude.faces.find import FaceFinder
    from deocclude.faces.mesh import mesh_mask
    from deocclude.segment.photos import segment_photo

    segmenter = Segmenter(weights)
    finder = FaceFinder(128)
    photos = sorted((data_root() / "wild").rglob("*.jpg"))
    photos = photos[:: max(1, len(photos) // count)]  # spread over all sources
    rows: list[list[np.ndarray]] = []
    row: list[np.ndarray] = []
    for path in photos:
        masks = segment_photo(read_image(path), segmenter, finder)
        for aligned, prob in masks.faces[:1]:
            visible = (prob >= 0.5).astype(np.float32)
            occluded = mesh_mask(aligned.landmarks, aligned.size, aligned.size) * (1 - visible)
            row += [
                aligned.crop,
                overlay_mask(overlay_mask(aligned.crop, visible, (0, 255, 0), 0.4), occluded, (255, 0, 0), 0.55),
            ]
            if len(row) == 8:
                rows.append(row)
                row = []
        if len(rows) * 4 >= count:
            break
    if row:
        rows.append(row)
    return labelled_grid(rows, ["crop", "S: green face, red M_O"] * 4, cell=128)


def hard_grid(weights: Path, hard_json: Path, count: int) -> np.ndarray:
    """The faces round 2 would up-weight: crop | pseudo-label | S (clean faces, no synthetic occluder)."""
    import json

    from deocclude.segment.data import face_names, load_faces

    scores = json.loads(hard_json.read_text())["disagreement"]
    split = json.loads(hard_json.read_text()).get("split", "train")
    faces = load_faces(data_root() / "faces" / "utkface", split, 128, None, 0)
    where = {n: i for i, n in enumerate(face_names(faces))}
    segmenter = Segmenter(weights)
    rows, row = [], []
    for name in sorted(scores, key=scores.__getitem__, reverse=True)[:count]:
        item = faces[where[name]]
        crop = (item["image"].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        row += [
            crop,
            overlay_mask(crop, item["face_mask"][0].numpy(), (0, 255, 0), 0.4),
            overlay_mask(crop, (segmenter(crop) >= 0.5).astype(np.float32), (0, 255, 0), 0.4),
        ]
        if len(row) == 12:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return labelled_grid(rows, ["crop", "pseudo-label", "S"] * 4, cell=128)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("-o", "--out", type=Path, default=Path("out/segment"))
    p.add_argument("--val", type=int, default=16)
    p.add_argument("--wild", type=int, default=40)
    p.add_argument(
        "--hard",
        type=Path,
        default=None,
        help="a mining JSON (python -m deocclude.segment.mining): grid of its top faces",
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.hard is not None:
        write_image(args.out / "hard_grid.png", hard_grid(args.weights, args.hard, 16))
        print(f"wrote {args.out}/hard_grid.png")
        return 0
    write_image(args.out / "val_grid.png", val_grid(args.weights, args.val))
    write_image(args.out / "wild_grid.png", wild_grid(args.weights, args.wild))
    print(f"wrote {args.out}/val_grid.png and {args.out}/wild_grid.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

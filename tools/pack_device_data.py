"""Pack a small copy of the shared data that can travel to a GPU machine with the repo.

    python tools/pack_device_data.py --train-faces 2500 --out .device/data

A lent GPU machine sees only the repository tree (64 MiB in all, the repo's own ~40 MB
included), never ``../shared``. This writes a data root with the same layout that
``DEOCCLUDE_DATA`` expects, trimmed to fit:

- UTKFace: the first ``--train-faces`` train faces whose visible ratio passes
  ``--min-visible-ratio`` (the training filter) plus the first ``--val-faces`` val faces;
  original image and mask bytes, landmarks as float16 (0.06 px at 200 px: far below the
  alignment's own error);
- occluders and textures: index files and sprites as they are, except the emoji and the
  textures, re-encoded to at most ``--asset-side`` px (they are drawn onto 128 px faces).
  MaskTheFace templates keep their size: their anchors (``masks.cfg``) are in sprite pixels.

The folder is for a training run on that machine only; it holds UTKFace-derived files
(non-commercial research only) and must never be committed (``.device/`` is ignored).
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import cv2
import numpy as np

# sub-folders whose images are re-encoded smaller; occluders/masktheface keeps its size (anchors in sprite px)
SHRINK = {"occluders": ("fluent3d/",), "textures": ("dtd/", "masktheface/", "skimage_cc0/")}


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _shrunk_copy(src: Path, dst: Path, side: int) -> None:
    """Re-encode an image to at most ``side`` px (same format, alpha kept); copy when already small."""
    img = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    if img is None or max(img.shape[:2]) <= side:
        _copy(src, dst)
        return
    scale = side / max(img.shape[:2])
    img = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA)
    dst.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if src.suffix.lower() in (".jpg", ".jpeg") else []
    cv2.imwrite(str(dst), img, params)


def pack_faces(src: Path, dst: Path, train_faces: int, val_faces: int, min_visible_ratio: float) -> int:
    with open(src / "index.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    train = [r for r in rows if r["split"] == "train" and float(r["visible_ratio"]) >= min_visible_ratio][:train_faces]
    val = [r for r in rows if r["split"] == "val"][:val_faces]
    chosen = sorted(train + val, key=lambda r: r["file"])
    dst.mkdir(parents=True, exist_ok=True)
    with open(dst / "index.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    lm = np.load(src / "landmarks.npz")
    pos = {n: i for i, n in enumerate(lm["names"].tolist())}
    keep = [pos[r["file"]] for r in chosen]
    np.savez_compressed(dst / "landmarks.npz", names=lm["names"][keep], points=lm["points"][keep].astype(np.float16))
    _copy(src / "mesh_topology.json", dst / "mesh_topology.json")
    for r in chosen:
        stem = r["file"][:-4]
        _copy(src / "images" / r["file"], dst / "images" / r["file"])
        for masks in ("face_masks", "hair_masks"):
            _copy(src / masks / f"{stem}.png", dst / masks / f"{stem}.png")
    return len(chosen)


def pack_assets(src: Path, dst: Path, side: int, shrink: tuple[str, ...]) -> int:
    """Every file under an asset folder (occluders, textures): index, licences, sprites."""
    count = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        if rel.startswith(shrink) and path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            _shrunk_copy(path, dst / rel, side)
        else:
            _copy(path, dst / rel)
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data root")
    parser.add_argument("--out", type=Path, default=Path(".device/data"))
    parser.add_argument("--train-faces", type=int, default=2500)
    parser.add_argument("--val-faces", type=int, default=64)
    parser.add_argument("--min-visible-ratio", type=float, default=0.7)
    parser.add_argument("--asset-side", type=int, default=128)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    faces = pack_faces(args.data / "faces" / "utkface", args.out / "faces" / "utkface", args.train_faces,
                       args.val_faces, args.min_visible_ratio)
    assets = sum(
        pack_assets(args.data / name, args.out / name, args.asset_side, shrink) for name, shrink in SHRINK.items()
    )
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"packed {faces} faces and {assets} asset files into {args.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

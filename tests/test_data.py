"""Aligned UTKFace dataset, its cache and loader; occluded-face dataset; seeded protocols; CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deocclude.cli import main
from deocclude.data import UTKFaceFaces, make_loader
from deocclude.faces.align import canonical_template, estimate_similarity, to_opencv
from deocclude.synth import OccludedFaces, OcclusionSynthesizer
from deocclude.synth.protocols import write_protocol

SIZE = 64


@pytest.fixture(scope="module")
def faces(utkface_root: Path, tmp_path_factory) -> UTKFaceFaces:
    return UTKFaceFaces(utkface_root, split="val", size=SIZE, cache_dir=tmp_path_factory.mktemp("cache"), limit=24)


@pytest.fixture(scope="module")
def test_faces(utkface_root: Path, tmp_path_factory) -> UTKFaceFaces:
    return UTKFaceFaces(utkface_root, split="test", size=SIZE, cache_dir=tmp_path_factory.mktemp("cache"), limit=6)


def test_items_shapes_ranges_and_mask_algebra(faces: UTKFaceFaces):
    assert len(faces) == 24
    for i in (0, 7, 23):
        it = faces[i]
        assert it["image"].shape == (3, SIZE, SIZE) and it["image"].dtype == torch.float32
        for k in ("face_mask", "mesh_mask", "hair_mask", "valid"):
            assert it[k].shape == (1, SIZE, SIZE) and 0 <= it[k].min() and it[k].max() <= 1, k
        assert it["landmarks"].shape == (468, 3)
        assert torch.all(it["face_mask"] <= it["mesh_mask"]) and torch.all(it["face_mask"] <= it["valid"])
        assert it["mesh_mask"].mean() > 0.3 and it["index"] == i and it["name"].endswith(".jpg")


def test_aligned_to_the_canonical_template(faces: UTKFaceFaces):
    lms = np.stack([faces[i]["landmarks"][:, :2].numpy() for i in range(len(faces))])
    err = np.abs(lms.mean(0) - canonical_template(SIZE)).mean()
    assert err < 0.03 * SIZE


def test_face_mask_agrees_with_the_shared_label(faces: UTKFaceFaces, utkface_root: Path):
    """Our aligned M_F (mesh re-rasterised, hair warped) matches the shared face mask warped."""
    lm = np.load(utkface_root / "landmarks.npz")
    pos = {n: i for i, n in enumerate(lm["names"].tolist())}
    for i in (1, 5, 11):
        it = faces[i]
        name = it["name"]
        shared = cv2.imread(str(utkface_root / "face_masks" / f"{name[:-4]}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        m = estimate_similarity(lm["points"][pos[name]], canonical_template(SIZE))
        warped = cv2.warpAffine(shared.astype(np.float32), to_opencv(m), (SIZE, SIZE), flags=cv2.INTER_AREA)
        ours = it["face_mask"][0].numpy() > 0.5
        ref = warped > 0.5
        iou = (ours & ref).sum() / max((ours | ref).sum(), 1)
        assert iou > 0.9, (name, iou)


def test_cache_is_reused(utkface_root: Path, tmp_path: Path):
    a = UTKFaceFaces(utkface_root, split="val", size=32, cache_dir=tmp_path, limit=5)
    (entry,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    stamp = (entry / "image.npy").stat().st_mtime_ns
    b = UTKFaceFaces(utkface_root, split="val", size=32, cache_dir=tmp_path, limit=5, min_visible_ratio=0.99)
    assert (entry / "image.npy").stat().st_mtime_ns == stamp
    assert torch.equal(
        a[0]["image"], UTKFaceFaces(utkface_root, split="val", size=32, cache_dir=tmp_path, limit=5)[0]["image"]
    )
    assert len(b) <= len(a) and all(r >= 0.99 for r in b.visible_ratio)


def test_loader_batches_and_datasets_pickle_light(faces: UTKFaceFaces, occluded: OccludedFaces):
    """Workers are spawned (see deocclude.data.loader), so datasets travel by pickle: the
    UTKFace arrays must re-open from the cache, not be copied, and give the same items."""
    import pickle

    loader = make_loader(faces, batch_size=8, shuffle=True, num_workers=0, seed=1)
    batch = next(iter(loader))
    assert batch["image"].shape == (8, 3, SIZE, SIZE) and len(batch["name"]) == 8
    blob = pickle.dumps(faces)
    assert len(blob) < 200_000  # paths and names, not pixels
    again = pickle.loads(blob)
    assert torch.equal(again[3]["image"], faces[3]["image"])
    twin = pickle.loads(pickle.dumps(occluded))
    assert torch.equal(twin[2]["occluded"], occluded[2]["occluded"])


@pytest.fixture(scope="module")
def occluded(faces: UTKFaceFaces) -> OccludedFaces:
    return OccludedFaces(faces, OcclusionSynthesizer(split="train"), seed=7, p_clean=0.1)


def test_occluded_labels(occluded: OccludedFaces):
    seen = set()
    for i in range(len(occluded)):
        it = occluded[i]
        a = it["alpha"]
        seen.add(it["category"])
        assert torch.all(it["face_mask_occluded"] <= it["face_mask"] + 1e-7)
        assert torch.allclose(it["face_mask_occluded"], it["face_mask"] * (1 - a))
        assert torch.all(it["occlusion"] <= a) and torch.all(it["occlusion"] <= it["mesh_mask"])
        expected = it["image"] * (1 - a) + it["_colour"] * a if "_colour" in it else None
        if expected is None:  # I' = I where A = 0, and differs only where A > 0
            same = (a[0] == 0)
            assert torch.equal(it["occluded"][:, same], it["image"][:, same])
        assert torch.isfinite(it["occluded"]).all() and 0 <= it["occluded"].min() and it["occluded"].max() <= 1
    assert len(seen) >= 6


def test_occluded_deterministic_in_any_order(occluded: OccludedFaces):
    forward = [occluded[i]["occluded"] for i in range(6)]
    backward = [occluded[i]["occluded"] for i in reversed(range(6))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(forward, backward))
    occluded.set_epoch(1)
    other = occluded[0]["alpha"]
    occluded.set_epoch(0)
    assert not torch.equal(other, occluded[0]["alpha"]) or occluded[0]["category"] == "none"


@pytest.mark.parametrize("protocol", ["sunglasses", "mixed"])
def test_protocol_byte_identical(test_faces: UTKFaceFaces, tmp_path: Path, protocol: str):
    s1 = write_protocol(protocol, tmp_path / "a", test_faces, seed=3, limit=4, progress=False)
    write_protocol(protocol, tmp_path / "b", test_faces, seed=3, limit=4, progress=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 4 * 6 + 2
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert 0 < s1["all"]["mean"] < 1
    if protocol == "sunglasses":
        rows = (tmp_path / "a" / "index.csv").read_text().splitlines()[1:]
        assert all(",eyewear,glasses_" in r for r in rows)


def test_cli_preview_and_bad_input(tmp_path: Path, capsys):
    out = tmp_path / "grid.png"
    assert main(["synth", "--preview", str(out), "--columns", "2", "--categories", "eyewear,mask", "--size", "64"]) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] == 2 * 2 * 64
    assert main(["synth", "--preview", str(tmp_path / "grid.jpg")]) == 2
    assert main(["synth", "--protocol", "mixed"]) == 2
    assert main(["synth", "--preview", str(out), "--categories", "sandwich"]) == 2
    assert "error" in capsys.readouterr().err


def test_face_folder_of_own_photos(example_photo: Path, tmp_path: Path):
    import shutil

    from deocclude.data import FaceFolder

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    shutil.copy(example_photo, photos / "sub" / "astronaut.jpg")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    cv2.imwrite(str(photos / "grey.png"), np.full((64, 64, 3), 128, np.uint8))
    with pytest.warns(RuntimeWarning) as record:
        ds = FaceFolder(photos, size=SIZE, cache_dir=tmp_path / "cache")
    assert {Path(str(w.message).split(":")[0].removeprefix("skipping ")).name for w in record} >= {
        "broken.jpg",
        "grey.png",
    }
    assert len(ds) == 1 and ds.names == ["sub/astronaut.jpg"]
    it = ds[0]
    assert it["image"].shape == (3, SIZE, SIZE) and torch.equal(it["face_mask"], it["mesh_mask"] * it["valid"])
    err = np.abs(it["landmarks"][:, :2].numpy() - canonical_template(SIZE)).mean()
    assert err < 0.06 * SIZE  # aligned onto the template
    again = FaceFolder(photos, size=SIZE, cache_dir=tmp_path / "cache")  # cached: no detection, no warning
    assert torch.equal(again[0]["image"], it["image"])
    occ = OcclusionSynthesizer(split="train")(it["image"].permute(1, 2, 0).numpy(), it["landmarks"].numpy(),
                                              np.random.default_rng(0), "eyewear")
    assert occ.alpha.max() > 0.5

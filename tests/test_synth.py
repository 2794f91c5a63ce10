"""Occlusion synthesis: determinism, exact composition, labels, every category, bank loading."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.faces.align import canonical_template
from deocclude.imageio import read_image
from deocclude.synth import CATEGORIES, PROCEDURAL_CATEGORIES, OccluderBank, OcclusionSynthesizer, SynthConfig, compose
from deocclude.synth.config import EyewearConfig
from deocclude.synth.eyewear import draw_glasses, random_design
from deocclude.synth.geometry import eye_centres
from deocclude.synth.sprite import Sprite, similarity, warp_sprite
from deocclude.synth.textures import PROCEDURAL_KINDS, procedural_texture

N = 128


@pytest.fixture(scope="module")
def face(example_photo: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real photo at N x N with template landmarks (placement does not need them to match)."""
    img = cv2.resize(read_image(example_photo), (N, N), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lm = np.concatenate([canonical_template(N), np.zeros((468, 1), np.float32)], axis=1)
    return img, lm


@pytest.fixture(scope="module")
def procedural() -> OcclusionSynthesizer:
    return OcclusionSynthesizer(SynthConfig(use_shared_data=False), split="train")


@pytest.fixture(scope="module")
def full(data_root: Path) -> OcclusionSynthesizer:
    return OcclusionSynthesizer(SynthConfig(), split="train")


def _check(occ, img: np.ndarray, category: str) -> None:
    assert occ.category == category
    for a in (occ.image, occ.alpha, occ.colour):
        assert np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0
    assert occ.image.shape == img.shape and occ.alpha.shape == img.shape[:2]
    assert occ.alpha.max() > 0.2, f"{category} drew nothing visible"
    assert np.array_equal(occ.image, compose(img, occ.colour, occ.alpha))  # eq. 2, exactly
    untouched = occ.alpha == 0
    assert np.array_equal(occ.image[untouched], img[untouched])


@pytest.mark.parametrize("category", PROCEDURAL_CATEGORIES)
def test_procedural_category_alone_without_data(procedural, face, category):
    img, lm = face
    for k in range(3):
        _check(procedural(img, lm, np.random.default_rng([3, k]), category), img, category)


def test_every_category_alone_with_bank(full, face):
    img, lm = face
    assert set(full.categories) == set(CATEGORIES)
    for split in ("train", "test"):
        synth = full if split == "train" else OcclusionSynthesizer(split="test")
        for category in CATEGORIES:
            _check(synth(img, lm, np.random.default_rng([5, CATEGORIES.index(category)]), category), img, category)


def test_same_seed_same_bytes_different_seed_differs(procedural, face):
    img, lm = face
    for category in PROCEDURAL_CATEGORIES:
        a = procedural(img, lm, np.random.default_rng(42), category)
        b = procedural(img, lm, np.random.default_rng(42), category)
        c = procedural(img, lm, np.random.default_rng(43), category)
        assert a.image.tobytes() == b.image.tobytes() and a.alpha.tobytes() == b.alpha.tobytes()
        assert a.source == b.source
        assert a.alpha.tobytes() != c.alpha.tobytes()


def test_unknown_or_unavailable_category(procedural, face):
    img, lm = face
    with pytest.raises(ValueError, match="unknown"):
        procedural(img, lm, np.random.default_rng(0), "sandwich")
    with pytest.raises(ValueError, match="not available"):
        procedural(img, lm, np.random.default_rng(0), "hand")  # needs the bank


def test_alpha_zero_away_from_object(procedural, face):
    """The edge blur only softens the object's border: A = 0 beyond a few sigma of it."""
    img, lm = face
    sharp_cfg = SynthConfig(use_shared_data=False, alpha_blur=(0.0, 0.0))
    sharp = OcclusionSynthesizer(sharp_cfg)
    iod = float(np.linalg.norm(np.subtract(*eye_centres(lm))))
    reach = int(np.ceil(3 * 0.8 * iod / 40 + 2))  # 3 sigma of the largest blur + 2 px
    for k, category in enumerate(PROCEDURAL_CATEGORIES * 2):
        blurred = procedural(img, lm, np.random.default_rng([9, k]), category).alpha
        crisp = sharp(img, lm, np.random.default_rng([9, k]), category).alpha
        support = (crisp > 0).astype(np.uint8)
        near = cv2.dilate(support, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
        assert np.all(blurred[near == 0] == 0), category
        assert (blurred > 0).sum() >= (crisp > 0.5).sum() * 0.9


def test_warped_sprite_stays_inside_its_footprint():
    rng = np.random.default_rng(0)
    alpha = np.zeros((40, 60), np.float32)
    alpha[5:35, 10:50] = 1.0
    sprite = Sprite(rng.random((40, 60, 3)).astype(np.float32), alpha)
    m = similarity(np.array([30.0, 20.0]), np.array([64.0, 64.0]), 0.8, 30.0)
    col, a = warp_sprite(sprite, m, N, N)
    corners = np.array([[10, 5], [50, 5], [50, 35], [10, 35]], np.float64)
    poly = corners @ m[:, :2].T + m[:, 2]
    inside = np.zeros((N, N), np.uint8)
    cv2.fillPoly(inside, [np.round(poly - 0.5).astype(np.int32)], 1)
    inside = cv2.dilate(inside, np.ones((5, 5), np.uint8))
    assert a.max() > 0.99 and np.all(a[inside == 0] == 0)
    assert np.isclose(a.sum(), 40 * 30 * 0.8 ** 2, rtol=0.05)  # area scales with scale^2


def test_clear_lenses_leave_eyes_visible_dark_lenses_hide_them():
    cfg = EyewearConfig()
    for k in range(8):
        rng = np.random.default_rng(k)
        for lens in ("clear", "dark"):
            d = random_design(rng, "train", cfg, lens=lens)
            sprite, centres = draw_glasses(d, 80.0, rng)
            for cx, cy in centres:
                val = sprite.alpha[int(cy), int(cx)]
                if lens == "clear":
                    assert val == 0.0, (d.shape, val)
                else:  # dark lenses: opacity >= 0.6, a gradient fades at most 70% at the bottom
                    assert d.opacity >= 0.6 and 0.6 * d.opacity <= val <= d.opacity + 1e-6, (d.shape, val)
            assert sprite.alpha.max() > 0.9  # the frame is always there


def test_procedural_textures_finite_in_range():
    for kind in PROCEDURAL_KINDS:
        t = procedural_texture(33, 47, np.random.default_rng(1), kind)
        assert t.shape == (33, 47, 3) and np.isfinite(t).all() and 0 <= t.min() and t.max() <= 1
        assert t.std() > 0.01, kind


def _png(path: Path, rgba: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))


def test_bank_without_index_skips_broken_files(tmp_path: Path):
    blob = np.zeros((30, 40, 4), np.uint8)
    cv2.circle(blob, (20, 15), 10, (200, 50, 20, 255), -1)
    _png(tmp_path / "hand" / "a.png", blob)
    _png(tmp_path / "misc" / "b.png", blob)
    (tmp_path / "hand" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    cv2.imwrite(str(tmp_path / "hand" / "rgb.png"), np.full((10, 10, 3), 128, np.uint8))
    with pytest.warns(RuntimeWarning) as record:
        bank = OccluderBank(tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "broken.png" in messages and "rgb.png" in messages and "no alpha" in messages
    assert len(bank) == 2
    assert bank.categories() == ["hand", "object"]  # unknown folder name -> object
    assert bank.items[0].sprite.alpha.max() == 1.0
    # the bank feeds the synthesizer, which then offers the hand category
    with pytest.warns(RuntimeWarning):
        synth = OcclusionSynthesizer(SynthConfig(occluder_root=tmp_path, use_shared_data=False))
    assert "hand" in synth.categories and "cup" not in synth.categories


def test_bank_index_with_missing_file_warns(tmp_path: Path):
    blob = np.zeros((20, 20, 4), np.uint8)
    blob[5:15, 5:15] = 255
    _png(tmp_path / "x.png", blob)
    (tmp_path / "index.csv").write_text("file,category,split\nx.png,cup,test\nmissing.png,cup,train\n")
    with pytest.warns(RuntimeWarning, match="missing.png"):
        bank = OccluderBank(tmp_path)
    assert [(it.category, it.split) for it in bank.items] == [("cup", "test")]
    assert bank.choices("cup", "train") == [] and bank.choices("cup", "test") == [0]


def test_test_split_draws_only_held_out_items(data_root: Path, face):
    import csv

    with open(data_root / "occluders" / "index.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    test_names = {Path(r["file"]).stem for r in rows if r["split"] == "test"}
    img, lm = face
    synth = OcclusionSynthesizer(split="test")
    for k in range(12):
        for category in ("hand", "object", "mask", "cup"):
            occ = synth(img, lm, np.random.default_rng([k, 1]), category)
            if not occ.source.startswith("cloth_mask_procedural"):
                assert occ.source in test_names, (category, occ.source)


def test_real_hair_from_other_faces(data_root: Path, face):
    img, lm = face
    synth = OcclusionSynthesizer(SynthConfig(p_real_hair=1.0))
    occ = synth(img, lm, np.random.default_rng(1), "hair")
    assert occ.source.startswith("hair_real:") and occ.alpha.max() > 0.9


def test_no_warnings_from_shared_bank(data_root: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bank = OccluderBank(data_root / "occluders")
    assert len(bank) >= 380
    assert sum(it.anchors is not None for it in bank.items) == 21


def test_same_bytes_with_any_opencv_thread_count(procedural, face):
    img, lm = face
    before = cv2.getNumThreads()
    try:
        out = []
        for threads in (1, 4):
            cv2.setNumThreads(threads)
            out.append([procedural(img, lm, np.random.default_rng(k), c).image.tobytes()
                        for k, c in enumerate(PROCEDURAL_CATEGORIES)])
        assert out[0] == out[1]
    finally:
        cv2.setNumThreads(before)

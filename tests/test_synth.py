"""Occlusion synthesis: determinism, exact composition, labels, every category, bank loading, protocols."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from deocclude.faces.align import canonical_template
from deocclude.imageio import read_image
from deocclude.synth import CATEGORIES, PROCEDURAL_CATEGORIES, OccluderBank, OcclusionSynthesizer, SynthConfig, compose
from deocclude.synth.config import DEFAULT_CATEGORIES, REALISTIC_CATEGORIES, EyewearConfig, weighted_config
from deocclude.synth.draw import fill_polygon
from deocclude.synth.eyewear import draw_glasses, random_design
from deocclude.synth.facemask import ear_loops, mask_shape
from deocclude.synth.geometry import FACE_OVAL, LEFT_CONTOUR, RIGHT_CONTOUR, ear_point, eye_centres, face_frame
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
    return OcclusionSynthesizer(SynthConfig(categories=CATEGORIES, use_shared_data=False), split="train")


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
    assert set(full.categories) == set(DEFAULT_CATEGORIES)  # the realistic kinds are opt-in
    for split in ("train", "test"):
        synth = OcclusionSynthesizer(SynthConfig(categories=CATEGORIES), split=split)
        assert set(synth.categories) == set(CATEGORIES)
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
    sharp_cfg = SynthConfig(categories=CATEGORIES, use_shared_data=False, alpha_blur=(0.0, 0.0))
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


# ---------------------------------------------------------------- realistic masks and glasses (issue 17)


@pytest.fixture(scope="module")
def small_face() -> tuple[np.ndarray, np.ndarray]:
    """The template face at 0.6 scale (chin, jaw and ears well inside the N x N canvas) on a plain
    skin-coloured image with a gentle gradient (a shadow on it is measurable everywhere)."""
    ramp = np.linspace(0.85, 1.0, N, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(np.array([0.8, 0.62, 0.52], np.float32) * ramp, (N, N, 3)).copy()
    t = (canonical_template(N) - N / 2) * 0.6 + [N / 2, N / 2 - 4]
    return img, np.concatenate([t, np.zeros((468, 1), np.float32)], axis=1)


def _face_px(frame, x: float, y: float) -> tuple[int, int]:
    col, row = np.floor(frame.to_image(np.array([x, y]))).astype(int)
    return int(row), int(col)


@pytest.mark.parametrize("split", ["train", "test"])
def test_realistic_kinds_drawn_deterministic(procedural, small_face, split):
    img, lm = small_face
    synth = procedural if split == "train" else OcclusionSynthesizer(
        SynthConfig(categories=CATEGORIES, use_shared_data=False), split="test")
    for category in REALISTIC_CATEGORIES:
        sources = set()
        for k in range(6):
            a = synth(img, lm, np.random.default_rng([21, k]), category)
            b = synth(img, lm, np.random.default_rng([21, k]), category)
            _check(a, img, category)
            assert a.image.tobytes() == b.image.tobytes() and a.alpha.tobytes() == b.alpha.tobytes()
            assert a.source == b.source and a.source.startswith(category)
            sources.add(a.source)
        other = synth(img, lm, np.random.default_rng([22, 0]), category)
        assert other.alpha.tobytes() != a.alpha.tobytes()
        if split == "test" and category != "thin_glasses":  # the facemask protocol's colours only
            assert sources <= {"surgical_mask_blue", "surgical_mask_white", "kn95_mask_white"}, sources


def test_realistic_kinds_are_opt_in_and_drawn_when_weighted(small_face):
    assert SynthConfig().categories == DEFAULT_CATEGORIES == CATEGORIES[:12]
    assert weighted_config() == SynthConfig()
    assert weighted_config((1.0,) * 12).categories == DEFAULT_CATEGORIES  # runs configured before: same draws
    assert weighted_config((1.0,) * 15).categories == CATEGORIES
    with pytest.raises(ValueError, match="one weight per category"):
        weighted_config((1.0,) * 13)
    img, lm = small_face
    only_new = OcclusionSynthesizer(weighted_config((0.0,) * 12 + (1.0, 1.0, 1.0)), split="train")
    drawn = {only_new(img, lm, np.random.default_rng([23, k])).category for k in range(24)}
    assert drawn == set(REALISTIC_CATEGORIES)


@pytest.mark.parametrize("category", ["surgical_mask", "kn95_mask"])
def test_mask_covers_under_the_jaw_and_reaches_the_ears(small_face, category):
    """The band runs under the chin and the jaw line, the occluder reaches out to the ears, and the
    shadow along the top edge is part of the occluder (alpha 1, colour = the face darkened)."""
    img, lm = small_face
    frame = face_frame(lm)
    for split in ("train", "test"):
        synth = OcclusionSynthesizer(SynthConfig(categories=CATEGORIES, use_shared_data=False,
                                                 alpha_blur=(0.0, 0.0)), split=split)
        for k in range(8):
            occ = synth(img, lm, np.random.default_rng([24, k]), category)
            chin = frame.to_face(lm[152, :2])
            assert occ.alpha[_face_px(frame, chin[0], chin[1] + 0.08)] > 0.9  # under the chin
            centre = frame.to_face(lm[4, :2]) + [0.0, 0.3]
            for i in (148, 176, 150, 377, 400, 379):  # the lower jaw line, 0.06 IOD outside it
                p = frame.to_face(lm[i, :2])
                q = p + 0.06 * (p - centre) / np.linalg.norm(p - centre)
                assert occ.alpha[_face_px(frame, *q)] > 0.5, (split, k, i)
            covered = frame.to_face(np.argwhere(occ.alpha.T > 0.3) + 0.5)  # (x, y) px -> face frame
            for contour, side in ((LEFT_CONTOUR, -1), (RIGHT_CONTOUR, 1)):  # out past the face outline by the ears
                outline = frame.to_face(lm[list(contour), :2])
                ear_side = np.abs(np.interp(np.linspace(-0.05, 0.75, 17), outline[:, 1], outline[:, 0])).max()
                assert (side * covered[:, 0]).max() >= ear_side + 0.03, (split, k, side)
            darkened = (occ.alpha > 0.99) & np.all(np.abs(occ.colour - img * (occ.colour[..., :1] / np.maximum(
                img[..., :1], 1e-3))) < 2e-3, axis=-1) & (occ.colour.mean(-1) < 0.97 * img.mean(-1))
            assert darkened.sum() >= 3, (split, k)  # the top-edge shadow


def test_ear_loops_run_from_the_mask_to_the_ears(small_face):
    img, lm = small_face
    frame = face_frame(lm)
    oval = fill_polygon(N, N, lm[list(FACE_OVAL), :2])
    yy, xx = np.mgrid[0:N, 0:N] + 0.5
    for k in range(8):
        rng = np.random.default_rng([25, k])
        shape = mask_shape(lm, frame, rng.uniform(0.15, 0.3), rng.uniform(0.0, 0.15), 0.05, 0.2, 1.0)
        loops = ear_loops(N, N, lm, frame, shape, 1.1, rng, "train")
        assert 0 < loops.max() <= 1.0
        for side in (-1, 1):
            corner = frame.to_image(shape.top[0 if side < 0 else -1])
            ear = frame.to_image(ear_point(lm, frame, side, 0.3, 0.1))
            for target, radius in ((corner, 0.1), (ear, 0.45)):
                near = np.hypot(xx - target[0], yy - target[1]) < radius * frame.iod
                assert loops[near].max() > 0.3, (k, side, target)
            assert loops[(oval < 0.5) & (np.sign(xx - frame.origin[0]) == side)].max() > 0.3  # off the face


def test_thin_glasses_thin_frames_clear_lenses_temples_to_the_ears(face, small_face):
    for (img, lm), check_width in ((small_face, False), (face, True)):
        frame = face_frame(lm)
        yy, xx = np.mgrid[0:N, 0:N] + 0.5
        synth = OcclusionSynthesizer(SynthConfig(categories=("thin_glasses",), use_shared_data=False,
                                                 alpha_blur=(0.0, 0.0)), split="test")
        for k in range(12):
            occ = synth(img, lm, np.random.default_rng([26, k]), "thin_glasses")
            for eye in eye_centres(lm):  # the eye behind a clear lens: at most a reflection or a light tint
                assert occ.alpha[int(eye[1]), int(eye[0])] < 0.7
            for side in (-1, 1):  # a temple out past the face outline, towards the ear
                ear = frame.to_image(ear_point(lm, frame, side, 0.0, 0.12))
                near = np.hypot(xx - ear[0], yy - ear[1]) < 0.3 * frame.iod
                assert occ.alpha[near].max() > 0.3, (k, side)
                if check_width:  # 1-3 px frames at N = 128 (IOD ~50): the temple's cross-section in px
                    row0, col = _face_px(frame, side * 1.06, -0.5)
                    row1, _ = _face_px(frame, side * 1.06, 0.5)
                    width = float(occ.alpha[row0:row1, col].sum())
                    assert 0.3 < width <= 0.05 * 1.5 * frame.iod + 1.0, (k, side, width)


# Digests of the first samples of the published protocols and of the default training draw, as made by
# the code before the realistic kinds came (commit 5e4343e): new kinds must not change a published set.
_PROTOCOL_DIGESTS = {
    ("sunglasses", 4): "7f1f1f556182a69ab9d17ddf221ef08bd3b2693df9fd3c5d6986b30f5e9c366c",
    ("mixed", 12): "30ecc239379a378d3a1ef6888668c541cbb18ec2c25af8218ae00ee83f045a82",
    ("default", 12): "18916c2ec3ea0522530e67e02a88776ccf5d9f8841dc2824e00c543899e56073",
}


def test_old_protocols_and_default_draw_unchanged(utkface_root: Path):
    from deocclude.data import UTKFaceFaces
    from deocclude.synth.protocols import iterate_protocol

    faces = UTKFaceFaces(root=utkface_root, split="test", size=N)
    for (name, n), expected in _PROTOCOL_DIGESTS.items():
        h = hashlib.sha256()
        if name == "default":
            synth = OcclusionSynthesizer(split="train")
            for i in range(n):
                item = faces[i]
                occ = synth(item["image"].permute(1, 2, 0).numpy(), item["landmarks"].numpy(),
                            np.random.default_rng([7, i]))
                h.update(occ.image.tobytes() + occ.alpha.tobytes() + f"{occ.category}|{occ.source}".encode())
        else:
            for s in iterate_protocol(name, faces, limit=n):
                h.update(s.occlusion.image.tobytes() + s.occlusion.alpha.tobytes()
                         + f"{s.occlusion.category}|{s.occlusion.source}".encode())
        assert h.hexdigest() == expected, name


def _drawn_twice(protocol: str, root: Path, limit: int) -> list[tuple[str, str, bytes, float]]:
    """(category, source, alpha bytes, coverage) of a protocol's first faces, checked to be the same drawn twice."""
    from deocclude.data import UTKFaceFaces
    from deocclude.synth.protocols import iterate_protocol

    faces = UTKFaceFaces(root=root, split="test", size=N)
    first, again = ([(s.occlusion.category, s.occlusion.source, s.occlusion.alpha.tobytes(), s.coverage())
                     for s in iterate_protocol(protocol, faces, limit=limit)] for _ in range(2))
    assert first == again
    return first


def test_facemask_protocol(utkface_root: Path):
    from deocclude.synth.protocols import FACEMASK_CATEGORIES, protocol_categories

    cats = protocol_categories("facemask", 1000, 20261125, FACEMASK_CATEGORIES)
    assert sorted(set(cats)) == sorted(FACEMASK_CATEGORIES) and cats.count("kn95_mask") == 500
    drawn = _drawn_twice("facemask", utkface_root, 6)
    assert {src.rsplit("_", 1)[0] for _, src, _, _ in drawn} == set(FACEMASK_CATEGORIES)
    assert all(0.25 < c < 0.9 for _, _, _, c in drawn)  # nose to chin of the face surface


def test_eyeglasses_protocol(utkface_root: Path):
    """Thin clear eyeglasses on every face, seeded: frames and temples cover a little of the face only."""
    drawn = _drawn_twice("eyeglasses", utkface_root, 4)
    assert {cat for cat, _, _, _ in drawn} == {"thin_glasses"}
    assert all(0.005 < c < 0.2 for _, _, _, c in drawn)  # thin frames, clear lenses

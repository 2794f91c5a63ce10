"""S: model shape rules, losses, weights round trip, inference API, CLI, bundled weights."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from deocclude.nets import count_parameters
from deocclude.segment.config import SegmentLossConfig, UNetConfig
from deocclude.segment.inference import DEFAULT_WEIGHTS, S_FILE, Segmenter, segment
from deocclude.segment.losses import SegmentLoss, dice_loss, ohem_bce_loss
from deocclude.segment.model import AnySize, UNet, crop_padding, pad_to_multiple

TINY = UNetConfig(
    stem_width=8, stage_widths=(8, 8, 16, 16), blocks_per_stage=(1, 1, 1, 1), decoder_widths=(16, 8, 8, 8, 8)
)


def test_forward_backward_tiny_batch() -> None:
    torch.manual_seed(0)
    net = UNet(TINY)
    x = torch.rand(2, 3, 64, 64)
    target = (torch.rand(2, 1, 64, 64) > 0.5).float()
    logits = net(x)
    assert logits.shape == (2, 1, 64, 64)
    losses = SegmentLoss()(logits, target)
    losses["loss"].backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_full_resnet18_layout_matches_reference_parameter_count() -> None:
    # torchvision's resnet18 without its fc layer has 11,176,512 parameters.
    from deocclude.segment.config import FULL_RESNET18

    assert count_parameters(UNet(FULL_RESNET18).encoder) == 11_176_512


def test_unet_rejects_sizes_that_are_not_multiples_of_32() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        UNet(TINY)(torch.rand(1, 3, 100, 64))


@pytest.mark.parametrize("shape", [(100, 77), (128, 128), (31, 33), (5, 200)])
def test_any_size_same_size_out_and_no_border_dropped(shape: tuple[int, int]) -> None:
    net = AnySize(UNet(TINY)).eval()
    x = torch.rand(1, 3, *shape)
    assert net(x).shape == (1, 1, *shape)
    padded, pad = pad_to_multiple(x)
    assert padded.shape[-1] % 32 == 0 and padded.shape[-2] % 32 == 0
    assert torch.equal(crop_padding(padded, pad), x)  # every original pixel is in the padded input


def test_dice_matches_formula_and_is_zero_for_perfect_prediction() -> None:
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:6, 2:6] = 1
    perfect = (target * 2 - 1) * 50.0
    assert dice_loss(perfect, target).item() < 1e-3
    logits = torch.zeros_like(target)  # p = 0.5 everywhere
    expected = 1 - (2 * 0.5 * 16 + 1) / (0.5 * 64 + 16 + 1)
    assert math.isclose(dice_loss(logits, target).item(), expected, rel_tol=1e-6)


def test_ohem_keeps_hardest_fraction_and_all_pixels_above_threshold() -> None:
    cfg = SegmentLossConfig(ohem_fraction=0.25, ohem_min_kept=1)
    target = torch.zeros(1, 1, 10, 10)
    logits = torch.full_like(target, -10.0)  # easy pixels, BCE ~ 4.5e-5
    logits[..., 0, :5] = 3.0  # 5 very hard pixels (BCE ~ 3.05)
    loss = ohem_bce_loss(logits, target, None, cfg.ohem_fraction, cfg.ohem_min_kept, cfg.ohem_threshold)
    # k = 25 pixels kept: 5 hard + 20 easy.
    bce_hard = torch.nn.functional.softplus(torch.tensor(3.0)).item()
    bce_easy = torch.nn.functional.softplus(torch.tensor(-10.0)).item()
    assert math.isclose(loss.item(), (5 * bce_hard + 20 * bce_easy) / 25, rel_tol=1e-4)
    # With 40 pixels above −log(0.7) they are all kept even though k = 25.
    logits[..., :4, :] = 0.0  # BCE = log 2 > −log 0.7
    loss = ohem_bce_loss(logits, target, None, 0.25, 1, -math.log(0.7))
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-4)


def test_ohem_never_keeps_invalid_pixels() -> None:
    target = torch.zeros(1, 1, 8, 8)
    logits = torch.full_like(target, -10.0)
    logits[..., :, :4] = 10.0  # hard, but invalid
    valid = torch.zeros_like(target)
    valid[..., :, 4:] = 1
    assert ohem_bce_loss(logits, target, valid, 0.5, 1).item() < 1e-3


def test_weights_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = UNet(TINY)
    # Non-trivial BN statistics so the round trip covers buffers too.
    net.train()
    net(torch.rand(4, 3, 64, 64))
    net.eval()
    path = S_FILE.save(net, tmp_path / "s.safetensors", size=64)
    loaded, info = S_FILE.load(path)
    size = info.size
    assert size == 64 and loaded.config == TINY
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        a, b = net(x), loaded(x)
    assert torch.allclose(torch.sigmoid(a), torch.sigmoid(b), atol=2e-3)  # fp16 storage


def test_segment_api_numpy_and_torch_inputs(tmp_path: Path) -> None:
    path = S_FILE.save(UNet(TINY).eval(), tmp_path / "s.safetensors", size=64)
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (100, 77, 3), dtype=np.uint8)
    p = segment(crop, weights=path)
    assert p.shape == (100, 77) and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    batch = segment(np.stack([crop, crop]), weights=path)
    assert batch.shape == (2, 100, 77)
    assert np.allclose(batch[0], p, atol=1e-5)
    t = segment(torch.from_numpy(crop).permute(2, 0, 1).float() / 255, weights=path)
    assert isinstance(t, torch.Tensor) and t.shape == (100, 77)
    assert np.allclose(t.numpy(), p, atol=1e-5)
    assert np.allclose(segment(crop, device="auto", weights=path), p, atol=1e-5)  # auto = CPU here


def test_segment_cli_aligned_and_photo_modes_and_bad_input(tmp_path: Path, example_photo: Path) -> None:
    from deocclude.cli import main
    from deocclude.imageio import read_image

    weights = S_FILE.save(UNet(TINY).eval(), tmp_path / "s.safetensors", size=64)
    out = tmp_path / "out"
    assert main(["segment", str(example_photo), "-o", str(out), "--weights", str(weights), "--prob", "--aligned"]) == 0
    for suffix in ("mask", "overlay", "prob"):
        assert (out / f"astronaut_{suffix}.png").is_file()
    mask = read_image(out / "astronaut_mask.png")
    assert mask.shape[:2] == read_image(example_photo).shape[:2]
    assert set(np.unique(mask)) <= {0, 255}
    # Photo mode: the astronaut's face is found, the mask is photo-sized and only non-zero near the face.
    photo_out = tmp_path / "photo"
    assert main(["segment", str(example_photo), "-o", str(photo_out), "--weights", str(weights), "--prob"]) == 0
    prob = read_image(photo_out / "astronaut_prob.png")[..., 0]
    assert prob.shape == mask.shape[:2] and prob.max() > 0
    ys, xs = np.nonzero(prob)
    assert (ys.max() - ys.min()) < prob.shape[0] * 0.6  # a face-sized region, not the whole photo
    assert main(["segment", str(tmp_path / "missing.png"), "-o", str(out), "--weights", str(weights)]) == 2
    assert main(["segment", str(example_photo), "-o", str(out), "--weights", str(tmp_path / "none.safetensors")]) == 2
    assert (
        main(["segment", str(out / "astronaut_mask.png"), "-o", str(out), "--weights", str(weights)]) == 2
    )  # would overwrite input


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="bundled S weights not built yet")
def test_bundled_weights_beat_trivial_baselines(utkface_root: Path) -> None:
    """On 8 val faces: clean faces vs predicting "all face"; occluded faces (held-out
    occluders) vs predicting the whole mesh surface as visible."""
    from deocclude.segment.data import SegmentValSet, load_faces

    val = SegmentValSet(load_faces(utkface_root, "val", 128, None, 0), seed=20261125)
    model = Segmenter(DEFAULT_WEIGHTS)

    def iou(pred: torch.Tensor, truth: torch.Tensor) -> float:
        return float((pred & truth).sum() / max(int((pred | truth).sum()), 1))

    rows = []
    for i in range(0, 480, 60):  # 8 faces spread over the split
        item = val[i]
        clean_truth, occ_truth = item["clean_target"][0] >= 0.5, item["target"][0] >= 0.5
        rows.append((
            iou(model(item["clean_image"]) >= 0.5, clean_truth),
            float(clean_truth.float().mean()),  # all-face prediction: IoU = face fraction of the crop
            iou(model(item["image"]) >= 0.5, occ_truth),
            iou(item["mesh"][0] >= 0.5, occ_truth),
        ))
    clean, all_face, occluded, mesh = np.mean(rows, axis=0)
    assert clean > all_face + 0.15, (clean, all_face)
    assert occluded > mesh + 0.05, (occluded, mesh)


def test_mining_scores_faces_and_hard_faces_repeat(tmp_path: Path, utkface_root: Path) -> None:
    from deocclude.segment.config import SegmentTrainConfig
    from deocclude.segment.mining import disagreement
    from deocclude.segment.task import SegmentTask

    weights = S_FILE.save(UNet(TINY).eval(), tmp_path / "s.safetensors", size=64)
    scores = disagreement(weights, "val", limit=4, workers=0)
    assert len(scores) == 4 and all(0.0 <= v <= 1.0 for v in scores.values())
    config = SegmentTrainConfig(size=64, train_split="val", train_limit=4, min_visible_ratio=0.0)
    plain = SegmentTask(config).train_dataset()
    names = plain.names
    assert set(names) == set(scores)
    ranked = {names[0]: 0.9, names[1]: 0.1, names[2]: 0.8, names[3]: 0.2}
    (tmp_path / "hard.json").write_text(json.dumps({"disagreement": ranked}))
    boosted = SegmentTask(
        replace(config, hard_examples=str(tmp_path / "hard.json"), hard_fraction=0.5, hard_repeat=3)
    ).train_dataset()
    assert len(plain) == 4 and len(boosted) == 4 + 2 * 2
    assert sorted(boosted.names[i] for i in boosted.order[4:]) == sorted([names[0], names[2]] * 2)
    sample = boosted[(5, 123)]
    assert sample["image"].shape == (3, 64, 64) and sample["target"].shape == (1, 64, 64)
    assert torch.equal(boosted[(5, 123)]["image"], sample["image"])  # same key, same sample


# -- the parser: [face, hair, other] ------------------------------------------------------

PARSER = replace(TINY, out_channels=3)


def test_parser_shapes_and_softmax_sums_to_one(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = S_FILE.save(UNet(PARSER).eval(), tmp_path / "p.safetensors", size=64)
    seg = Segmenter(path)
    assert seg.is_parser and Segmenter.CLASSES == ("face", "hair", "other")
    crops = np.random.default_rng(0).integers(0, 256, (2, 100, 77, 3), dtype=np.uint8)
    probs = seg.parse(crops)
    assert probs.shape == (2, 3, 100, 77) and probs.dtype == np.float32
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5) and probs.min() >= 0
    assert np.allclose(seg(crops), probs[:, 0], atol=1e-6)  # __call__ stays P(face)
    assert seg.parse(crops[0]).shape == (3, 100, 77)
    t = seg.parse(torch.from_numpy(crops[0]).permute(2, 0, 1))
    assert isinstance(t, torch.Tensor) and t.shape == (3, 100, 77)


def test_old_binary_weights_parse_as_face_and_other(tmp_path: Path) -> None:
    path = S_FILE.save(UNet(TINY).eval(), tmp_path / "s.safetensors", size=64)
    seg = Segmenter(path)
    assert not seg.is_parser
    crop = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    probs, p = seg.parse(crop), seg(crop)
    assert np.allclose(probs[0], p) and np.all(probs[1] == 0) and np.allclose(probs[2], 1 - p)


def test_parse_targets_hair_occluder_is_hair_and_others_other() -> None:
    from deocclude.segment.classes import parse_targets

    face = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    hair = torch.tensor([[[0.0, 0.0, 1.0, 0.0]]])
    alpha = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    for is_hair, expect in ((False, [0, 2, 1, 2]), (True, [0, 1, 1, 2])):
        t = parse_targets(face, hair, alpha, is_hair)
        assert t.shape == (3, 1, 4) and torch.allclose(t.sum(0), torch.ones(1, 4))
        assert t.argmax(0)[0].tolist() == expect


def test_parser_loss_decreases_on_a_tiny_batch() -> None:
    torch.manual_seed(0)
    net = UNet(PARSER)
    x = torch.rand(2, 3, 64, 64)
    labels = x.argmax(1)  # learnable per pixel: the brightest colour channel
    target = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float()
    loss = SegmentLoss()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(25):
        opt.zero_grad()
        parts = loss(net(x), target, torch.ones(2, 1, 64, 64))
        parts["loss"].backward()
        opt.step()
        first = float(parts["loss"].detach()) if first is None else first
    assert set(parts) == {"loss", "dice", "ce_ohem"}
    assert float(parts["loss"].detach()) < 0.8 * first


def test_parser_init_from_binary_weights_starts_as_the_old_s(tmp_path: Path) -> None:
    from deocclude.segment.config import SegmentTrainConfig
    from deocclude.segment.task import SegmentTask

    torch.manual_seed(2)
    old = UNet(TINY).eval()
    path = S_FILE.save(old, tmp_path / "s.safetensors", size=64, half=False)
    task = SegmentTask.__new__(SegmentTask)  # no data needed for the weights hook
    task.config = SegmentTrainConfig(model=PARSER)
    models = task.build_models()
    task.load_initial_weights(models, path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        probs = torch.softmax(models["net"].eval()(x), 1)
        p_old = torch.sigmoid(old(x))[:, 0]
    # hair starts at bias -4: P(face) within a few per cent of the old S everywhere
    assert (probs[:, 0] - p_old).abs().max() < 0.05


def test_photometric_jitter_changes_the_light_not_the_layout() -> None:
    """S's light augmentation: same shape and range, another colour cast, edges where they were."""
    import numpy as np
    import torch

    from deocclude.segment.data import photometric_jitter

    image = torch.zeros(3, 32, 32)
    image[:, :, 16:] = torch.tensor([0.8, 0.6, 0.5]).view(3, 1, 1)  # a skin-coloured half
    outs = [photometric_jitter(image, np.random.default_rng([seed, 2]), 1.0) for seed in range(20)]
    assert all(o.shape == image.shape and 0.0 <= float(o.min()) and float(o.max()) <= 1.0 for o in outs)
    assert all(float(o[:, :, :16].abs().max()) == 0.0 for o in outs)  # black stays black: no shift of layout
    casts = torch.stack([o[:, 0, 20] for o in outs])
    assert float(casts.std(0).min()) > 0.02  # the light really varies per channel
    assert torch.equal(photometric_jitter(image, np.random.default_rng(0), 0.0), image)

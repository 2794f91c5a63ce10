"""G: generator/discriminator shapes, composite, losses, Poisson targets, weights round trip, API, CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deocclude.cli import main
from deocclude.errors import DeoccludeError
from deocclude.imageio import read_image, write_image
from deocclude.inpaint.api import G_FILE, inpaint
from deocclude.inpaint.config import DiscriminatorConfig, GeneratorConfig
from deocclude.inpaint.discriminator import Discriminator
from deocclude.inpaint.generator import Generator, composite, generator_input
from deocclude.inpaint.losses import (
    discriminator_loss,
    erode,
    generator_adversarial,
    masked_l1,
    ssim_ohem,
    total_variation,
)
from deocclude.inpaint.poisson import poisson_target

TINY = GeneratorConfig(widths=(8, 8, 16), bottleneck_blocks=2, bottleneck_dilations=(1, 2), attention_after=1)


def _hole(b: int, h: int, w: int) -> torch.Tensor:
    m = torch.zeros(b, 1, h, w)
    m[..., h // 4: h // 2, w // 5: 3 * w // 4] = 1
    return m


def test_forward_backward_shapes_and_gradients() -> None:
    torch.manual_seed(0)
    g, d = Generator(TINY), Discriminator(DiscriminatorConfig(widths=(8, 16)))
    image, hole = torch.rand(2, 3, 32, 32), _hole(2, 32, 32)
    x = generator_input(image, hole, torch.rand(2, 3, 32, 32))
    assert x.shape == (2, 7, 32, 32)
    out = g(x)
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1
    logits = d(out)
    assert logits.shape == (2,)
    (generator_adversarial(logits) + out.mean()).backward()
    grads = [p.grad for p in g.parameters() if p.requires_grad]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)


@pytest.mark.parametrize("shape", [(37, 50), (128, 96), (9, 70), (4, 4)])
def test_any_size_input_comes_back_the_same_size(shape: tuple[int, int]) -> None:
    g = Generator(TINY).eval()
    with torch.no_grad():
        assert g(torch.rand(1, 7, *shape)).shape == (1, 3, *shape)


def test_noise_only_inside_the_hole() -> None:
    image, hole = torch.rand(1, 3, 16, 16), _hole(1, 16, 16)
    x = generator_input(image, hole, None)
    assert torch.equal(x[:, 1:4] * (1 - hole), (image * 2 - 1) * (1 - hole))
    assert torch.equal(x[:, 4:], torch.zeros(1, 3, 16, 16))  # no prior = zeros
    assert x[:, 1:4][hole.expand(1, 3, 16, 16) > 0].std() > 0.5  # N(0, 1) noise in the hole


def test_composite_keeps_unmasked_pixels_exactly() -> None:
    image, pred, hole = torch.rand(2, 3, 20, 20), torch.rand(2, 3, 20, 20), _hole(2, 20, 20)
    out = composite(image, pred, hole)
    keep = hole.expand_as(image) == 0
    assert torch.equal(out[keep], image[keep])
    assert torch.equal(out[~keep], pred[~keep])


def test_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    g = Generator(TINY).eval()
    x = torch.rand(1, 7, 24, 24)
    path = G_FILE.save(g, tmp_path / "g.safetensors", size=24, half=False)
    loaded, info = G_FILE.load(path)
    size = info.size
    assert size == 24 and loaded.config == TINY
    with torch.no_grad():
        assert torch.equal(g(x), loaded(x))
    half_path = G_FILE.save(g, tmp_path / "g16.safetensors", size=24)
    with torch.no_grad():
        assert torch.allclose(g(x), G_FILE.load(half_path)[0](x), atol=2e-2)
    with pytest.raises(DeoccludeError, match="not found"):
        G_FILE.load(tmp_path / "missing.safetensors")


def test_losses_are_zero_for_a_perfect_prediction_and_finite_otherwise() -> None:
    torch.manual_seed(2)
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    m = _hole(2, 32, 32)
    assert masked_l1(a, a, m) == 0 and masked_l1(a, b, m) > 0
    assert masked_l1(a, b, torch.zeros_like(m)) == 0  # empty mask: 0, not NaN
    assert ssim_ohem(a, a, m).item() < 1e-4 and ssim_ohem(a, b, m) > 0.5
    assert ssim_ohem(a, b, m, weight=torch.zeros(2)) == 0  # no prior: skipped
    assert total_variation(torch.full((1, 3, 8, 8), 0.3)) == 0 and total_variation(a) > 0
    real, fake = torch.randn(4), torch.randn(4)
    assert torch.isfinite(discriminator_loss(real, fake, torch.tensor([1.0, 0, 1, 1])))
    assert discriminator_loss(torch.full((2,), 30.0), torch.full((2,), -30.0)) < 1e-6


def test_ssim_ohem_keeps_only_the_hardest_pixels() -> None:
    a = torch.rand(1, 3, 32, 32)
    b = a.clone()
    b[..., 8:12, 8:24] = torch.rand(1, 3, 4, 16)  # damage a small part of the region
    region = _hole(1, 32, 32)
    region[..., 4:20, 4:28] = 1
    all_pixels = ssim_ohem(a, b, region, fraction=1.0, min_kept=1)
    hardest = ssim_ohem(a, b, region, fraction=0.1, min_kept=1)
    assert hardest > 2 * all_pixels


def test_erode_shrinks_masks() -> None:
    m = _hole(1, 32, 32)
    e = erode(m, 5)
    assert e.sum() < m.sum() and torch.all(e <= m)
    assert torch.equal(erode(m, 1), m)


def test_poisson_target_moves_structure_in_and_keeps_the_rest() -> None:
    image = np.full((64, 64, 3), 100, np.uint8)
    render = np.zeros((64, 64, 3), np.uint8)
    render[:, 32:] = 200  # a vertical edge at column 32
    region = np.zeros((64, 64), np.float32)
    region[10:50, 10:54] = 1
    out = poisson_target(image, render, region)
    assert np.array_equal(out[region == 0], image[region == 0])
    row = out[30, :, 0].astype(int)
    assert int(np.argmax(np.abs(np.diff(row)))) == 31  # the edge lands where it is in the render
    assert np.array_equal(poisson_target(image, render, np.zeros((64, 64))), image)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    return G_FILE.save(Generator(TINY), tmp_path_factory.mktemp("w") / "g.safetensors", size=32)


def test_api_single_uint8_crop_keeps_unmasked_pixels(tiny_weights: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    hole = np.zeros((48, 40), np.uint8)
    hole[10:30, 5:25] = 255
    out = inpaint(image, hole, weights=tiny_weights)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[hole == 0], image[hole == 0])
    assert not np.array_equal(out[hole > 0], image[hole > 0])
    again = inpaint(image, hole, weights=tiny_weights)
    assert np.array_equal(out, again)  # the hole's noise is seeded


def test_api_batched_tensors_and_prior(tiny_weights: Path) -> None:
    image, hole, prior = torch.rand(3, 3, 32, 32), _hole(3, 32, 32), torch.rand(3, 3, 32, 32)
    out = inpaint(image, hole, prior, weights=tiny_weights)
    assert out.shape == image.shape
    keep = hole.expand_as(image) == 0
    assert torch.equal(out[keep], image[keep])
    assert not torch.equal(out, inpaint(image, hole, None, weights=tiny_weights))  # the prior is used
    with pytest.raises(DeoccludeError, match="does not match"):
        inpaint(image, _hole(3, 16, 16), weights=tiny_weights)


def test_cli_fills_and_reports_bad_input(tmp_path: Path, tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:30] = 255
    write_image(tmp_path / "in.png", image)
    write_image(tmp_path / "mask.png", mask)
    out = tmp_path / "out.png"
    assert main(["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o", str(out),
                 "--weights", str(tiny_weights)]) == 0
    result = read_image(out)
    assert np.array_equal(result[mask == 0], image[mask == 0])
    assert main(["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
                 str(tmp_path / "telea.png"), "--method", "telea"]) == 0
    write_image(tmp_path / "small.png", mask[:20])
    assert main(["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "small.png"), "-o", str(out)]) == 2
    assert "is 40x20 but the image is 40x40" in capsys.readouterr().err
    assert main(["inpaint", str(tmp_path / "nope.png"), "--mask", str(tmp_path / "mask.png"), "-o", str(out)]) == 2
    assert (
        main(
            ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o", str(tmp_path / "in.png")]
        )
        == 2
    )
    assert np.array_equal(read_image(tmp_path / "in.png"), image)  # input never overwritten


def _fake_batch(b: int = 2, n: int = 32, prior: bool = True) -> dict:
    torch.manual_seed(4)
    image = torch.rand(b, 3, n, n)
    hole = _hole(b, n, n)
    mesh = torch.zeros(b, 1, n, n)
    mesh[..., 4:28, 6:26] = 1
    orig = torch.zeros(b, 1, n, n)
    orig[..., 4:10, 6:26] = 1  # "bangs" over the top of the face
    return {"image": image, "occluded": image * (1 - hole) + 0.2 * hole, "hole": hole, "face_mask": mesh * (1 - orig),
            "orig_occlusion": orig, "render_mask": mesh, "valid": torch.ones(b, 1, n, n),
            "prior": torch.rand(b, 3, n, n) if prior else torch.zeros(b, 3, n, n),
            "has_prior": torch.full((b,), float(prior)), "has_target": torch.full((b,), float(prior)),
            "poisson": torch.rand(b, 3, n, n),
            "real_ok": torch.ones(b), "synthetic": hole}


@pytest.mark.parametrize("no_ssim", [False, True])
def test_training_task_step_gives_every_loss_and_updates_both_networks(no_ssim: bool) -> None:
    from deocclude.inpaint.config import InpaintLossConfig, InpaintTrainConfig
    from deocclude.inpaint.task import InpaintTask

    config = InpaintTrainConfig(generator=TINY, discriminator=DiscriminatorConfig(widths=(8, 16)), no_ssim_loss=no_ssim,
                                loss=InpaintLossConfig(id_every=1))
    task = InpaintTask(config)
    models = task.build_models()
    opts = task.build_optimizers(models, config)
    batch = _fake_batch()
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in models.items()}
    for stage in task.stages():
        opts[stage.optimizer].zero_grad()
        losses = stage.compute(models, batch, 0)
        assert all(torch.isfinite(v) for v in losses.values())
        losses["loss"].backward()
        opts[stage.optimizer].step()
        if stage.optimizer == "generator":
            assert {"face", "hole", "bg", "tv", "adv", "id"} <= set(losses) and ("ssim" in losses) == (not no_ssim)
            if not no_ssim:
                assert losses["ssim"] > 0  # a prior and a real-occlusion region: L_ssim is active
    for k, m in models.items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], m.parameters())), k
    with torch.no_grad():
        sums = task.val_step(models, batch)
    metrics = task.summarize(sums)
    assert set(metrics) == {"val_l1", "val_psnr", "val_ssim", "val_id_cos", "val_arc_cos"}
    assert all(np.isfinite(list(metrics.values())))
    assert task.grid(models, batch).shape == (2 * 32 + 2, 6 * 32 + 10, 3)


def test_export_metadata_makes_the_run_weights_loadable(tmp_path) -> None:
    """The loop's final/weights.safetensors loads as an Inpainter, and says whether G takes I_R."""
    from safetensors.torch import save_file

    from deocclude.inpaint.api import load_inpainter
    from deocclude.inpaint.config import InpaintTrainConfig
    from deocclude.inpaint.task import InpaintTask

    for no_prior in (False, True):
        task = InpaintTask(InpaintTrainConfig(generator=TINY, no_prior=no_prior))
        path = tmp_path / f"g_{no_prior}.safetensors"
        save_file(task.export(task.build_models()), str(path), metadata=task.export_metadata())
        assert load_inpainter(str(path)).uses_prior is (not no_prior)


def test_ssim_loss_is_skipped_without_a_prior() -> None:
    from deocclude.inpaint.config import InpaintTrainConfig
    from deocclude.inpaint.task import InpaintTask

    task = InpaintTask(InpaintTrainConfig(generator=TINY, discriminator=DiscriminatorConfig(widths=(8, 16))))
    models = task.build_models()
    losses = task.generator_losses(models, _fake_batch(prior=False), 1)
    assert losses["ssim"] == 0 and "id" not in losses  # id every 4th step by default


def test_prior_blend_brings_the_render_structure_with_the_photo_colours() -> None:
    """A dark hole (sunglasses) over a flat skin patch: the blend takes the render's eye
    (a dark dot) and the photo's skin tone, and leaves everything outside the hole alone."""
    from deocclude.inpaint.classical import prior_blend

    image = np.full((64, 64, 3), (180, 140, 120), np.uint8)
    image[20:40, 10:54] = 10  # the occluder
    render = np.full((64, 64, 3), 90, np.uint8)  # a darker render of the same face...
    render[28:32, 20:24] = 20  # ...with an eye
    hole = np.zeros((64, 64), np.float32)
    hole[19:41, 9:55] = 1
    out = prior_blend(image, hole, render)
    assert np.array_equal(out[hole == 0], image[hole == 0])
    skin = out[22, 40].astype(int)
    assert np.abs(skin - (180, 140, 120)).max() <= 3  # the photo's colour, not the render's 90
    assert out[30, 22].astype(int).sum() < skin.sum() - 150  # the eye is there
    face = np.ones((64, 64), np.float32)
    face[:, 50:] = 0  # the hole leaves the rendered face, whose background is black: Telea guides there
    unrendered = np.where(face[..., None] > 0, render, 0).astype(np.uint8)
    out = prior_blend(image, hole, unrendered, face)
    assert np.abs(out[30, 52].astype(int) - (180, 140, 120)).max() <= 10


@pytest.mark.parametrize("scale", [1, 255])
def test_inpaint_reads_uint8_masks_of_either_scale(scale: int, tiny_weights: Path) -> None:
    """A uint8 mask with 1 = hole and one with 255 = hole fill the same pixels (a 0/1 uint8
    mask was once divided by 255 and then filled nothing)."""
    image = np.full((64, 64, 3), 120, np.uint8)
    image[20:40, 20:40] = 0
    hole = np.zeros((64, 64), np.uint8)
    hole[18:42, 18:42] = scale
    out = inpaint(image, hole, weights=tiny_weights)
    assert not np.array_equal(out[20:40, 20:40], image[20:40, 20:40])
    assert np.array_equal(out[hole == 0], image[hole == 0])


def test_render_guidance_carries_the_face_colours_over_the_black_background() -> None:
    """Face pixels stay exactly as rendered but for the outermost ring (the rasterizer's
    blend with black); the background takes the colour of the face next to it (no dark edge
    at the outline for the blend or G to copy)."""
    from deocclude.inpaint.guidance import render_guidance

    render = np.zeros((64, 64, 3), np.uint8)
    face = np.zeros((64, 64), np.float32)
    face[16:48, 16:40] = 1
    render[16:48, 16:28] = (200, 150, 120)  # left half of the face lighter...
    render[16:48, 28:40] = (100, 70, 60)  # ...right half darker
    render[16, 16:40] = 30  # the anti-aliased rim, darkened towards the background
    out = render_guidance(render, face)
    inner = np.zeros_like(face)
    inner[17:47, 17:39] = 1
    assert np.array_equal(out[inner > 0], render[inner > 0])
    assert np.abs(out[16, 18:24].astype(int) - (200, 150, 120)).max() < 15  # the dark rim is gone
    assert out[face == 0].min() > 40  # no black left anywhere, corners included
    assert np.abs(out[32, 10].astype(int) - (200, 150, 120)).max() < 15  # next to the light half
    assert np.abs(out[32, 46].astype(int) - (100, 70, 60)).max() < 15  # next to the dark half
    assert render_guidance(render, None) is render
    assert render_guidance(render, np.zeros_like(face)) is render  # nothing to carry


def test_inpaint_carries_a_given_render_like_the_pipeline(tiny_weights: Path) -> None:
    """``inpaint(prior=I_R)`` with a black background gives what G gets from the pipeline
    (the render carried outwards), not the raw black edge."""
    from deocclude.inpaint.api import load_inpainter
    from deocclude.inpaint.guidance import render_guidance

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    hole = np.zeros((32, 32), np.uint8)
    hole[4:28, 4:28] = 1
    render = np.zeros((32, 32, 3), np.uint8)
    render[8:24, 8:24] = rng.integers(60, 250, (16, 16, 3), dtype=np.uint8)
    carried = render_guidance(render, render.max(-1) > 0)
    given = inpaint(image, hole, render, weights=tiny_weights)
    assert np.array_equal(given, inpaint(image, hole, carried, weights=tiny_weights))
    raw = load_inpainter(str(tiny_weights)).fill(_batch(image), _batch(hole[..., None] * 255), _batch(render))
    assert not np.array_equal(given, (raw[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))


def _batch(array: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 → (1, C, H, W) float in [0, 1]."""
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255.0


def test_training_samples_get_the_holes_and_prior_the_pipeline_hands_g(utkface_root: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``hole="pipeline"``: the training hole is the raw one shaped by the pipeline's own
    recipe (grown past the occluder's edge); ``carry_prior``: the render's black background
    is filled while the rendered face stays as it was. Same occluder either way."""
    from deocclude.data import UTKFaceFaces
    from deocclude.inpaint.data import InpaintSamples, PoissonTargets
    from deocclude.inpaint.prior import RegressorRenders
    from deocclude.masks import G_HOLE_DILATE
    from deocclude.masks.occlusion import shape_occlusion
    from deocclude.synth import OcclusionSynthesizer

    monkeypatch.setenv("DEOCCLUDE_CACHE", str(tmp_path))
    faces = UTKFaceFaces(utkface_root, split="val", size=128, cache_dir=tmp_path, limit=3)
    prior = RegressorRenders(faces, 128, device="cpu")
    poisson = PoissonTargets(faces, prior)
    synth = OcclusionSynthesizer(split="train")
    paper = InpaintSamples(faces, synth, prior, poisson, 0.0, 0.95, train=False, seed=3)
    shaped = InpaintSamples(faces, synth, prior, poisson, 0.0, 0.95, train=False, seed=3, hole="pipeline",
                            carry_prior=True)
    grown = 0.0
    for i in range(len(faces)):
        a, b = paper[i], shaped[i]
        assert torch.equal(a["occluded"], b["occluded"])
        expected = shape_occlusion(a["hole"][0].numpy(), a["render_mask"][0].numpy(), a["valid"][0].numpy(),
                                   dilate=G_HOLE_DILATE)
        assert np.array_equal(b["hole"][0].numpy(), expected)
        grown += float((b["hole"] * (1 - a["hole"])).sum())
        face = a["render_mask"][0] > 0.5
        inner = torch.from_numpy(cv2.erode(face.numpy().astype(np.uint8), np.ones((3, 3), np.uint8))) > 0
        assert torch.allclose(b["prior"][:, inner], a["prior"][:, inner], atol=1 / 255)
        assert float(a["prior"][:, ~face].max()) == 0.0 and float(b["prior"][:, ~face].amax(0).min()) > 0.05
    assert grown > 100  # the 4 px growth G's holes keep


def test_feature_loss_is_zero_on_the_clean_face_and_pulls_a_blurred_one_back() -> None:
    """L_feat (ours): ArcFace feature maps of the canonical chip; gradients reach the input pixels."""
    from deocclude.identity.arcface_align import arcface_chips, arcface_network
    from deocclude.imageio import read_image
    from deocclude.inpaint.losses import feature_l1
    from deocclude.paths import REPO_DIR
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    face = Deoccluder(DeoccluderConfig(fill="telea")).find_faces(read_image(REPO_DIR / "examples" / "astronaut.jpg"))[0]
    clean = torch.from_numpy(face.aligned.crop).permute(2, 0, 1)[None].float() / 255

    def features(x: torch.Tensor) -> list[torch.Tensor]:
        return arcface_network("cpu").feature_maps(arcface_chips(x))

    assert [tuple(m.shape[1:]) for m in features(clean)] == [(64, 56, 56), (64, 28, 28), (128, 14, 14), (128, 7, 7)]
    assert float(feature_l1(features, clean, clean)) == 0.0
    blurred = torch.nn.functional.avg_pool2d(clean, 5, 1, 2).requires_grad_(True)
    loss = feature_l1(features, blurred, clean)
    loss.backward()
    assert float(loss) > 0.05 and blurred.grad is not None and float(blurred.grad.abs().sum()) > 0

"""The fill contract (deocclude/fills), run over every registered fill, and the FaceBatch they share.

Every fill gets the same real batch: the bundled astronaut with sunglasses, aligned by our
faces path, with S's M_O and R's render from the bundled weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deocclude.errors import DeoccludeError
from deocclude.face_batch import FaceBatch, image_batch, images_to_tensor, tensor_to_images
from deocclude.fills import Fill, fill_choices, fill_names, make_fill, register_fill
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR


@pytest.fixture(scope="module")
def batch() -> FaceBatch:
    from deocclude.pipeline import Deoccluder, DeoccluderConfig, face_batch

    deoccluder = Deoccluder(DeoccluderConfig(fill="telea"))
    photo = read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")
    faces = deoccluder.find_occlusions(deoccluder.find_faces(photo))
    assert faces and faces[0].status == "ok" and faces[0].render is not None
    found = face_batch(faces * 2)  # two faces: batching is part of the contract
    assert found.occlusion is not None and found.occlusion.sum() > 100  # the sunglasses
    return found


def test_every_builtin_fill_is_registered() -> None:
    assert set(fill_names()) >= {"telea", "navier-stokes", "prior", "g"}
    assert fill_choices()[0] == "auto"


@pytest.mark.parametrize("name", fill_names())
def test_fill_contract(name: str, batch: FaceBatch) -> None:
    """Shape, range, CPU float32; the input outside M_O exactly; something new inside it."""
    fill = make_fill(name)
    assert isinstance(fill, Fill) and fill.name == name and fill.label
    out = fill(batch)
    n = batch.size
    assert out.shape == (2, 3, n, n) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    outside = torch.from_numpy(batch.occlusion < 0.5)[:, None].expand_as(out)
    assert torch.equal(out[outside], images_to_tensor(batch.crops)[outside])
    inside = ~outside
    assert (out[inside] - images_to_tensor(batch.crops)[inside]).abs().mean() > 0.02
    assert fill.describe(batch).startswith(fill.label)


def test_fills_that_follow_the_render_say_so_without_one(batch: FaceBatch) -> None:
    from dataclasses import replace

    no_render = replace(batch, render=None)
    with pytest.raises(DeoccludeError, match="render"):
        make_fill("prior")(no_render)
    g = make_fill("g")
    assert g.describe(batch) == "G with I_R" and g.describe(no_render) == "G"


def test_unknown_fill_is_a_one_line_error() -> None:
    with pytest.raises(DeoccludeError, match="unknown fill 'lama'.*telea"):
        make_fill("lama")


def test_a_new_fill_is_one_registration_and_the_pipeline_uses_it() -> None:
    """A fill registered from outside the package is a --fill choice and runs in the pipeline."""
    from deocclude.fills import registry
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    @register_fill("grey-test")
    class GreyFill:
        name, label, needs_render = "grey-test", "mid grey", False

        def __init__(self, **_: object) -> None:
            pass

        def describe(self, batch: FaceBatch) -> str:
            return self.label

        def __call__(self, batch: FaceBatch) -> torch.Tensor:
            hole = torch.from_numpy(batch.occlusion)[:, None]
            return images_to_tensor(batch.crops) * (1 - hole) + 0.5 * hole

    try:
        assert "grey-test" in fill_choices()
        deoccluder = Deoccluder(DeoccluderConfig(fill="grey-test"))
        face = deoccluder.run(read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")).faces[0]
        assert "+ mid grey" in face.method  # then "+ harmonic fill past the crop" where M_O goes on past the crop
        inside = face.occlusion_mask > 0.5
        assert np.abs(face.restored[inside].astype(int) - 128).max() <= 1
    finally:
        registry._FACTORIES.pop("grey-test")


def test_gated_faces_are_not_filled(batch: FaceBatch) -> None:
    """Only faces the gate lets through reach the fill: select() keeps their rows, in order."""
    picked = batch.select([1])
    assert len(picked) == 1 and np.array_equal(picked.crops[0], batch.crops[1])
    assert np.array_equal(picked.render[0], batch.render[1])


def test_with_occlusion_shares_the_views_that_do_not_depend_on_the_mask(batch: FaceBatch) -> None:
    guidance = batch.guidance
    oracle = batch.with_occlusion(np.ones_like(batch.occlusion))
    assert oracle.guidance is guidance and oracle.image is batch.image
    assert float(oracle.hole.mean()) == 1.0 and float(batch.hole.mean()) < 1.0


@pytest.mark.parametrize("layout", ["hwc-uint8", "bhwc-float", "chw-uint8-tensor", "bchw-float-tensor"])
def test_image_batch_takes_every_layout(layout: str) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    expected = torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255.0
    given = {"hwc-uint8": image, "bhwc-float": image[None] / 255.0,
             "chw-uint8-tensor": torch.from_numpy(image).permute(2, 0, 1),
             "bchw-float-tensor": expected.clone()}[layout]
    batch, single = image_batch(given)
    assert single == (layout in ("hwc-uint8", "chw-uint8-tensor"))
    assert batch.shape == (1, 3, 16, 16) and batch.dtype == torch.float32
    assert torch.allclose(batch, expected, atol=1e-6)
    assert np.array_equal(tensor_to_images(batch)[0], image)


def test_image_batch_rejects_what_is_not_rgb() -> None:
    with pytest.raises(DeoccludeError, match="my input: expected RGB"):
        image_batch(np.zeros((8, 8)), "my input")
    with pytest.raises(DeoccludeError, match="expected a .3,H,W. or .B,3,H,W. tensor"):
        image_batch(torch.zeros(1, 4, 8, 8))


def test_g_fills_a_256_crop_at_256() -> None:
    """``--size 256`` runs G at 256 (fully convolutional), not at its 128 training size and back:
    the fill then carries detail finer than a 128 px output upsampled (issue 17 item 4)."""
    from deocclude.pipeline import Deoccluder, DeoccluderConfig, face_batch

    deoccluder = Deoccluder(DeoccluderConfig(fill="telea", size=256))
    faces = deoccluder.find_occlusions(deoccluder.find_faces(read_image(REPO_DIR / "examples" / "astronaut_mask.jpg")))
    batch = face_batch(faces)
    assert batch.size == 256 and batch.occlusion is not None and batch.occlusion.sum() > 2000
    g = make_fill("g", true_colour=False)
    filled = g(batch)
    resized = g.inpainter.fill(batch.image, batch.hole, batch.guidance_tensor, native=True, seed=batch.seed)
    hole = batch.hole[:, :, 1:-1, 1:-1] > 0.5

    def fine_detail(x: torch.Tensor) -> float:  # mean |Laplacian| inside the hole
        lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
        return float(lap.abs().mean(1, keepdim=True)[hole].mean())

    assert not torch.allclose(filled, resized)
    assert fine_detail(filled) > 1.2 * fine_detail(resized)

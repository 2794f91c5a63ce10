"""R: the regressor, its losses, the bundled weights, the API and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deocclude.faces.align import canonical_template
from deocclude.reconstruct.losses import (INNER_MOUTH_POINTS, NOSE_POINTS, ReconstructLoss, coefficient_loss,
                                          landmark_weights, pixel_loss)
from deocclude.reconstruct.regressor import Regressor
from deocclude.reconstruct.regressor_config import ReconstructLossConfig, RegressorConfig

TINY = RegressorConfig(stem_width=8, stage_widths=(8, 16, 16, 32))


@pytest.fixture(scope="module")
def face_model():
    from deocclude.reconstruct.face_model import DEFAULT_PATH, FaceModel

    if not DEFAULT_PATH.is_file():
        pytest.skip(f"face model not bundled yet: {DEFAULT_PATH}")
    return FaceModel.load()


def test_initial_prediction_is_the_mean_face_and_gradients_reach_the_head() -> None:
    scale = torch.linspace(0.1, 2.0, 257)
    net = Regressor(TINY, scale)
    x = net(torch.rand(3, 3, 64, 64))
    assert x.shape == (3, 257) and torch.isfinite(x).all()
    assert torch.equal(x, torch.zeros_like(x))  # zero-initialised head: x = 0 is the mean face
    (x - 1.0).pow(2).mean().backward()
    grad = net.head.bias.grad
    assert grad is not None and torch.allclose(grad, -2.0 * scale / 257 * 3 / 3)  # d/db of mean((b*s - 1)^2) at b=0


def test_landmark_weights_mark_nose_and_inner_mouth() -> None:
    w = landmark_weights(468, 20.0)
    assert len(set(NOSE_POINTS)) == 24 and len(set(INNER_MOUTH_POINTS)) == 20
    assert int((w == 20.0).sum()) == 44 and int((w == 1.0).sum()) == 468 - 44
    t = canonical_template(128)
    nose, mouth = t[list(NOSE_POINTS)], t[list(INNER_MOUTH_POINTS)]
    # in the canonical crop the nose lies between the eyes' height and the mouth, the inner lips around the mouth centre
    assert t[[33, 263], 1].mean() - 5 < nose[:, 1].min() and nose[:, 1].max() < mouth[:, 1].min()
    assert np.abs(mouth.mean(0) - t[[13, 14]].mean(0)).max() < 3.0


def test_coefficient_and_pixel_losses_follow_the_equations() -> None:
    x, y = torch.zeros(2, 257), torch.ones(2, 257)
    assert coefficient_loss(x, y).item() == pytest.approx(1.0)
    image = torch.zeros(1, 3, 4, 4)
    render = torch.zeros(1, 3, 4, 4)
    render[:, :, 0, 0] = torch.tensor([3.0, 4.0, 0.0])  # colour distance 5 at one pixel
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1.0  # 8 pixels
    assert pixel_loss(image, render, mask).item() == pytest.approx(5.0 / 8.0, abs=1e-3)  # eps under the root


def test_losses_are_zero_at_the_teacher_and_positive_elsewhere(face_model) -> None:
    from deocclude.identity import load_identity_network
    from deocclude.identity.embed import face_embedding

    net = load_identity_network()
    loss = ReconstructLoss(face_model, lambda c: face_embedding(c, net), ReconstructLossConfig())
    x_star = torch.zeros(2, 257)
    x_star[:, 1] = torch.tensor([0.15, -0.1])  # yaw
    x_star[:, 6:10] = torch.randn(2, 4)
    rendered = face_model.render(x_star, 64)
    image, mask = rendered.image.detach(), torch.ones(2, 1, 64, 64)
    at, _ = loss(x_star.clone(), x_star, image, mask)
    assert at["coef"].item() == 0 and at["lm"].item() < 1e-8 and at["pix"].item() < 1e-3 and at["per"].item() < 1e-4
    x = torch.zeros(2, 257, requires_grad=True)
    off, rendered_x = loss(x, x_star, image, mask)
    assert rendered_x.image.shape == (2, 3, 64, 64) and rendered_x.mask.shape == (2, 1, 64, 64)
    assert all(torch.isfinite(v) and v.item() > 0 for k, v in off.items())
    off["loss"].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad[:, :6].abs().sum() > 0


def test_weights_round_trip_api_and_obj(tmp_path: Path, face_model) -> None:
    from deocclude.reconstruct.inference import Reconstructor, load_regressor, save_weights, write_obj

    net = Regressor(TINY, torch.ones(257))
    torch.nn.init.normal_(net.head.weight, std=1e-3)
    path = save_weights(net, tmp_path / "r.safetensors", 64)
    loaded, size = load_regressor(path)
    crops = torch.rand(2, 3, 64, 64)
    assert size == 64 and torch.allclose(loaded(crops), net.eval()(crops), atol=1e-3)
    model = Reconstructor(path, face_model=face_model)
    x, image, mask = model((np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8))
    assert x.shape == (1, 257) and image.shape == (1, 3, 96, 96) and mask.shape == (1, 1, 96, 96)
    assert torch.isfinite(image).all() and 0.05 < mask.mean().item() < 0.95
    verts, colours, triangles = model.mesh(x)
    obj = write_obj(tmp_path / "face.obj", verts[0], triangles, colours[0])
    lines = obj.read_text().splitlines()
    assert sum(line.startswith("v ") for line in lines) == 468
    assert sum(line.startswith("f ") for line in lines) == len(triangles)


def _occluded_val_faces(count: int):
    from deocclude.data import UTKFaceFaces
    from deocclude.synth.protocols import iterate_protocol

    faces = UTKFaceFaces(split="val", size=128)
    return list(iterate_protocol("mixed", faces, limit=count))


def test_bundled_weights_beat_the_mean_face_on_occluded_val_faces(utkface_root: Path, face_model) -> None:
    """Against the clean faces' own MediaPipe landmarks (no teacher cache needed)."""
    from deocclude.reconstruct.inference import DEFAULT_WEIGHTS, Reconstructor

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"R weights not bundled: {DEFAULT_WEIGHTS}")
    samples = _occluded_val_faces(12)
    occluded = torch.stack([torch.from_numpy(np.ascontiguousarray(s.occlusion.image)).permute(2, 0, 1).float() for s in samples])
    truth = torch.stack([s.item["landmarks"][:, :2] for s in samples])
    model = Reconstructor(face_model=face_model)
    x = model(occluded).x
    r_err = (face_model.landmarks(x, 128)[..., :2] - truth).norm(dim=-1).mean()
    mean_err = (face_model.landmarks(torch.zeros_like(x), 128)[..., :2] - truth).norm(dim=-1).mean()
    assert r_err < 0.8 * mean_err, (float(r_err), float(mean_err))


def test_cli_photo_and_bad_input(tmp_path: Path, example_photo: Path, face_model) -> None:
    from deocclude.reconstruct.inference import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"R weights not bundled: {DEFAULT_WEIGHTS}")
    cmd = [sys.executable, "-m", "deocclude", "reconstruct"]
    done = subprocess.run(cmd + [str(example_photo), "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for suffix in ("_render.png", "_mask.png", ".obj", "_input.png"):
        assert (tmp_path / "out" / f"astronaut_face0{suffix}").is_file()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    done = subprocess.run(cmd + [str(bad), "-o", str(tmp_path / "o2")], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "bad.jpg" in done.stdout + done.stderr

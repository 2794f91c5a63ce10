"""R: the regressor, its losses, the bundled weights, the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deocclude.faces.align import canonical_template
from deocclude.reconstruct.losses import (
    INNER_MOUTH_POINTS,
    NOSE_POINTS,
    ReconstructLoss,
    coefficient_loss,
    landmark_weights,
    pixel_loss,
)
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
    from deocclude.reconstruct.inference import R_FILE, Reconstructor, write_obj

    net = Regressor(TINY, torch.ones(257))
    torch.nn.init.normal_(net.head.weight, std=1e-3)
    path = R_FILE.save(net, tmp_path / "r.safetensors", 64)
    loaded, info = R_FILE.load(path)
    size = info.size
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


def _occluded_val_faces(root: Path, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``count`` val faces aligned at 128 with one held-out occluder each, the clean
    crops and their MediaPipe landmarks (read straight from the data: no dataset cache to build)."""
    import csv

    from deocclude.faces.align import align_face
    from deocclude.imageio import read_image
    from deocclude.synth import OcclusionSynthesizer, SynthConfig

    with open(root / "index.csv", newline="") as fh:
        names = [r["file"] for r in csv.DictReader(fh) if r["split"] == "val"][:count]
    with np.load(root / "landmarks.npz") as data:  # compressed: read each array once
        pos = {n: i for i, n in enumerate(data["names"].tolist())}
        all_points = data["points"]
    # held-out procedural occluders only: loading the emoji bank would dominate the test's time
    synth = OcclusionSynthesizer(
        SynthConfig(categories=("mask", "eyewear", "scarf_cloth", "blob"), use_shared_data=False), split="test"
    )
    images, clean, points = [], [], []
    for k, name in enumerate(names):
        aligned = align_face(read_image(root / "images" / name), all_points[pos[name]], 128)
        occ = synth(aligned.crop.astype(np.float32) / 255.0, aligned.landmarks, np.random.default_rng([7, k]), None)
        images.append(torch.from_numpy(np.ascontiguousarray(occ.image, dtype=np.float32)).permute(2, 0, 1))
        clean.append(torch.from_numpy(aligned.crop).permute(2, 0, 1).float() / 255.0)
        points.append(torch.from_numpy(aligned.landmarks[:, :2].astype(np.float32)))
    return torch.stack(images), torch.stack(clean), torch.stack(points)


def test_bundled_weights_beat_the_mean_face_on_occluded_val_faces(utkface_root: Path, face_model) -> None:
    """Against the clean faces' own MediaPipe landmarks (no teacher cache needed)."""
    from deocclude.reconstruct.inference import DEFAULT_WEIGHTS, Reconstructor

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"R weights not bundled: {DEFAULT_WEIGHTS}")
    from deocclude.faces.mesh import mesh_mask

    occluded, clean, truth = _occluded_val_faces(utkface_root, 12)
    face = torch.from_numpy(np.stack([mesh_mask(p.numpy(), 128, 128) for p in truth]))[:, None]
    model = Reconstructor(face_model=face_model)
    x = model(occluded).x

    def errors(coefficients: torch.Tensor) -> tuple[float, float]:
        rendered = face_model.render(coefficients, 128)
        landmark = (rendered.landmarks - truth).norm(dim=-1).mean()
        photometric = ((rendered.image - clean).norm(dim=1, keepdim=True) * face).sum() / face.sum()
        return float(landmark), float(photometric)

    (r_lm, r_photo), (mean_lm, mean_photo) = errors(x), errors(torch.zeros_like(x))
    assert r_lm < 0.8 * mean_lm and r_photo < 0.8 * mean_photo, (r_lm, mean_lm, r_photo, mean_photo)


def test_cli_photo_aligned_and_bad_input(tmp_path: Path, example_photo: Path, face_model, capsys) -> None:
    from deocclude.cli import main
    from deocclude.imageio import read_image
    from deocclude.reconstruct.inference import R_FILE

    net = Regressor(TINY, torch.ones(257))
    torch.nn.init.normal_(net.head.weight, std=1e-3)
    weights = str(R_FILE.save(net, tmp_path / "r.safetensors", 64))
    out = tmp_path / "out"
    assert main(["reconstruct", str(example_photo), "-o", str(out), "--weights", weights, "--coefficients"]) == 0
    for suffix in ("_render.png", "_mask.png", ".obj", "_input.png", ".npy"):
        assert (out / f"astronaut_face0{suffix}").is_file(), suffix
    assert not (out / "astronaut_face1.obj").exists()  # one face in the photo
    crop = out / "astronaut_face0_input.png"
    assert main(["reconstruct", str(crop), "-o", str(tmp_path / "aligned"), "--aligned", "--weights", weights]) == 0
    mask = read_image(tmp_path / "aligned" / "astronaut_face0_input_mask.png")
    assert mask.shape[:2] == read_image(crop).shape[:2] and 0.1 < (mask > 127).mean() < 0.9
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    capsys.readouterr()
    assert main(["reconstruct", str(bad), "-o", str(tmp_path / "o2"), "--weights", weights]) == 1
    assert "bad.jpg" in capsys.readouterr().out
    assert (
        main(["reconstruct", str(example_photo), "-o", str(tmp_path / "o3"), "--weights", str(tmp_path / "none")]) == 2
    )
    assert (
        main(["reconstruct", str(crop), "-o", str(out), "--aligned", "--weights", weights]) == 2
    )  # would overwrite input

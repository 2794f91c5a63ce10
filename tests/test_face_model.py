"""The bundled face model: loads, has the 257-number layout, renders a face where the
canonical template says the face is, and is differentiable w.r.t. every field of x."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from deocclude.faces.align import canonical_template
from deocclude.faces.mesh import mesh_mask
from deocclude.reconstruct.face_model import DEFAULT_PATH, FaceModel, angles_from_rotation, rotation_matrix
from deocclude.reconstruct.layout import CoefficientLayout


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel.load()


def test_layout_is_257_named_fields() -> None:
    lay = CoefficientLayout()
    assert lay.size == 257 and len(lay.field_names()) == 257
    x = torch.arange(2 * 257, dtype=torch.float32).view(2, 257)
    c = lay.split(x)
    assert c.angles.shape == (2, 3) and c.translation.shape == (2, 3)
    assert c.shape.shape == (2, 144) and c.albedo.shape == (2, 80) and c.light.shape == (2, 9, 3)
    assert torch.equal(lay.join(*c), x)
    with pytest.raises(ValueError):
        lay.split(torch.zeros(2, 256))


def test_bundled_file_is_small_and_says_what_built_it(model: FaceModel) -> None:
    assert DEFAULT_PATH.stat().st_size < 25e6
    assert model.layout.size == 257
    assert "non-commercial" in model.metadata["licence"]
    assert "build-face-model" in model.metadata["command"]
    assert model.mean_shape.shape == (468, 3) and model.triangles.max() < 468


def test_mean_face_covers_the_canonical_mesh_area(model: FaceModel) -> None:
    with torch.no_grad():
        out = model.render(model.layout.zeros(1), 128)
    assert out.image.shape == (1, 3, 128, 128) and out.mask.shape == (1, 1, 128, 128)
    template = canonical_template(128)
    assert np.abs(out.landmarks[0].numpy() - template).mean() < 1.0
    got = out.mask[0, 0].numpy() > 0.5

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return float((a & b).sum() / (a | b).sum())

    # the rasterizer fills the same region as the data's mesh masks (OpenCV fills boundary
    # pixels a little more generously: about half a pixel along the outline)
    own = mesh_mask(out.landmarks[0].numpy(), 128, 128) > 0.5
    assert iou(got, own) > 0.97 and (got & ~own).sum() < 20
    # and x = 0 sits on the canonical template (the mean shape is a little smaller than the
    # average 2-D outline, which averages over head poses)
    assert iou(got, mesh_mask(template, 128, 128) > 0.5) > 0.92
    face = out.image[0][:, torch.from_numpy(got)]
    assert 0.2 < float(face.mean()) < 0.9  # a skin-toned face, not black or blown out
    assert float(out.image[0][:, ~torch.from_numpy(got)].abs().max()) == 0.0


def test_shape_basis_is_orthogonal_with_decreasing_std(model: FaceModel) -> None:
    dirs = model.shape_basis.flatten(1) / model.shape_std[:, None]
    gram = dirs[:40] @ dirs[:40].T
    assert torch.allclose(gram, torch.eye(40), atol=2e-2)
    assert torch.all(model.shape_std[1:] <= model.shape_std[:-1] + 1e-6)
    assert torch.all(model.albedo_std[1:] <= model.albedo_std[:-1] + 1e-6)


def test_uvs_are_mirror_symmetric(model: FaceModel) -> None:
    uv, m = model.uv, model.mirror
    assert torch.equal(m[m], torch.arange(468))
    assert torch.allclose(uv[m, 0], 1 - uv[:, 0], atol=1e-5) and torch.allclose(uv[m, 1], uv[:, 1], atol=1e-5)


def test_rotation_angles_round_trip() -> None:
    angles = torch.tensor([[0.2, -0.5, 0.1], [-0.3, 0.4, -0.2]])
    assert torch.allclose(angles_from_rotation(rotation_matrix(angles)), angles, atol=1e-5)


def test_gradients_reach_every_field_of_x(model: FaceModel) -> None:
    x = model.layout.zeros(2)
    x[:, 1] = torch.tensor([0.3, -0.3])  # some yaw so that every SH band sees varied normals
    x.requires_grad_(True)
    out = model.render(x, 64)
    target = torch.rand_like(out.image)
    loss = ((out.image - target) ** 2).mean() + out.landmarks.square().mean() * 1e-4
    loss.backward()
    lay = model.layout
    for name in ("pose", "shape", "albedo", "light"):
        g = x.grad[:, getattr(lay, name)]
        assert torch.isfinite(g).all() and g.abs().sum() > 0, name


def test_turning_the_head_moves_the_landmarks_the_right_way(model: FaceModel) -> None:
    x = model.layout.zeros(2)
    x[1, 1] = 0.5  # positive yaw: rotation about +Y turns the nose towards +X (image right)
    with torch.no_grad():
        lm = model.render(x, 128).landmarks
    nose_tip = 1
    assert lm[1, nose_tip, 0] > lm[0, nose_tip, 0] + 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(model: FaceModel) -> None:
    x = torch.randn(2, 257) * 0.2
    cpu = model.render(x, 64)
    gpu = FaceModel.load(device="cuda").render(x.cuda(), 64)
    assert torch.allclose(cpu.image, gpu.image.cpu(), atol=1e-3)


def test_cli_reports_a_missing_model_in_one_line(tmp_path) -> None:
    res = subprocess.run([sys.executable, "-m", "deocclude", "fit", "--model", str(tmp_path / "nope.safetensors")],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "face model not found" in res.stderr

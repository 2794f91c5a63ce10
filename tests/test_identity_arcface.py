"""The ArcFace-class port: parity with onnxruntime on real chips, batching, gradients, alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deocclude.faces.align import canonical_template
from deocclude.identity.arcface import ARCFACE_BUNDLED, ArcFaceMobile, load_arcface
from deocclude.identity.arcface_align import (
    ARCFACE_TEMPLATE,
    arcface_chips,
    arcface_cosine,
    five_points,
    similarity_to_template,
)
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR


def _onnx_path(data_root: Path) -> Path:
    path = data_root.parent / "models" / "faceplugin" / "fr_feature.onnx"
    if not path.is_file():
        pytest.skip(f"faceplugin fr_feature.onnx not found at {path}")
    return path


def _real_crops() -> tuple[torch.Tensor, torch.Tensor]:
    """Canonical crops (B, 3, 128, 128) and their landmarks of the bundled example photos."""
    from deocclude.faces.align import align_face
    from deocclude.faces.detect import FaceDetector
    from deocclude.faces.landmarks import FaceMesh

    detector, mesh = FaceDetector(), FaceMesh()
    crops, marks = [], []
    for name in ("astronaut_sunglasses.jpg", "astronaut_mask.jpg"):
        image = read_image(REPO_DIR / "examples" / name)
        for m in mesh(image, detector(image)):
            if m.present:
                face = align_face(image, m.points, 128)
                crops.append(face.crop)
                marks.append(face.landmarks)
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(np.stack(marks))


def test_bundled_weights_small_and_fp16() -> None:
    from safetensors import safe_open

    assert ARCFACE_BUNDLED.stat().st_size < 3e6
    with safe_open(str(ARCFACE_BUNDLED), "pt") as f:
        assert f.metadata()["source_sha256"] == "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())


def test_parity_with_onnxruntime_on_real_chips(data_root: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a reference-extra dependency")
    session = ort.InferenceSession(str(_onnx_path(data_root)), providers=["CPUExecutionProvider"])
    crops, marks = _real_crops()
    lfw = data_root / "faces" / "lfw" / "images"
    chips = arcface_chips(crops, marks)
    if lfw.is_dir():  # plus centre-cut LFW photos (deep-funnelled: the face is the central ~110 px)
        files = sorted(lfw.glob("*/*.jpg"))[:6]
        cut = np.stack([read_image(f)[69:181, 69:181] for f in files])
        chips = torch.cat([chips, torch.from_numpy(cut).permute(0, 3, 1, 2).float() / 255])
    reference = np.concatenate([session.run(None, {"input": ((c[None] * 255 - 127) / 128).numpy()})[0] for c in chips])
    with torch.no_grad():
        ours = load_arcface()(chips).numpy()
    cos = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    assert cos.min() >= 0.999, cos


def test_batched_equals_one_by_one() -> None:
    network = load_arcface()
    chips = torch.rand(4, 3, 112, 112, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batched = network(chips)
        single = torch.cat([network(c[None]) for c in chips])
    assert batched.shape == (4, 512)
    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-4)


def test_gradcheck_through_alignment_and_network() -> None:
    """Analytic input gradients match finite differences (float64, a randomly initialised copy
    so the check is fast and exercises every layer)."""
    torch.manual_seed(0)
    network = ArcFaceMobile().double().eval()
    crops = torch.rand(1, 3, 128, 128, dtype=torch.float64, requires_grad=True)
    direction = torch.randn(1, 512, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return (network(arcface_chips(x)) * direction).sum()

    f(crops).backward()
    perturb = torch.randn_like(crops)
    eps = 1e-5
    numeric = (f(crops.detach() + eps * perturb) - f(crops.detach() - eps * perturb)) / (2 * eps)
    analytic = (crops.grad * perturb).sum()
    assert torch.isclose(numeric, analytic, rtol=1e-3, atol=1e-8)  # PReLU and bilinear kinks
    assert crops.grad.abs().sum() > 0


def test_identity_loss_differentiable_and_self_cosine_one() -> None:
    crops = torch.rand(2, 3, 128, 128, requires_grad=True)
    cos = arcface_cosine(crops, crops.detach())
    torch.testing.assert_close(cos, torch.ones(2), atol=1e-5, rtol=0)
    (1 - arcface_cosine(crops, torch.rand(2, 3, 128, 128))).sum().backward()
    assert crops.grad is not None and torch.isfinite(crops.grad).all()


def test_five_point_alignment_hits_template() -> None:
    """A mesh already placed so that its 5 points sit on the template maps by the identity."""
    marks = torch.from_numpy(canonical_template(128)).double()[None]
    matrix = similarity_to_template(five_points(marks))
    mapped = five_points(marks) @ matrix[0, :, :2].T + matrix[0, :, 2]
    residual = (mapped[0] - torch.from_numpy(ARCFACE_TEMPLATE)).norm(dim=1)
    assert residual.mean() < 4.0  # the canonical mean face is close to ArcFace's mean face
    chips = arcface_chips(torch.rand(3, 3, 256, 256), marks.expand(3, -1, -1) * 2)
    assert chips.shape == (3, 3, 112, 112)


def test_any_device_dtype() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    network = load_arcface(device=device)
    out = network(torch.rand(2, 3, 112, 112, device=device))
    assert out.device.type == device and out.shape == (2, 512)

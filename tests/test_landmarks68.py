"""The 68-landmark network's port (faceplugin ``fr_landmark``): bundled file, onnxruntime parity, the mirror test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import load_tool
from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import LEFT_EYE as MESH_LEFT_EYE
from deocclude.faces.landmarks import RIGHT_EYE as MESH_RIGHT_EYE
from deocclude.faces.landmarks import FaceMesh
from deocclude.faces.landmarks68 import (
    LANDMARK68_BUNDLED,
    LANDMARK68_FILE,
    LEFT_EYE,
    MIRROR,
    RIGHT_EYE,
    Landmark68Net,
    Landmarks68,
)
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR

SOURCE_SHA256 = "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"


def test_bundled_weights_small_fp16_with_their_source() -> None:
    from safetensors import safe_open

    assert LANDMARK68_BUNDLED.stat().st_size < 1e6
    with safe_open(str(LANDMARK68_BUNDLED), "pt") as f:
        assert f.metadata()["source_sha256"] == SOURCE_SHA256
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys() if f.get_tensor(k).is_floating_point())


def test_mirror_is_a_pairing() -> None:
    assert sorted(MIRROR) == list(range(68))
    assert all(MIRROR[MIRROR[i]] == i for i in range(68))  # mirroring twice is the identity
    assert [MIRROR[i] for i in RIGHT_EYE] == [45, 44, 43, 42, 47, 46] and MIRROR[30] == 30  # eyes swap, nose tip stays


@pytest.mark.parametrize("name", ["astronaut.jpg", "astronaut_mask.jpg", "astronaut_sunglasses.jpg"])
def test_eyes_land_on_the_mesh_eyes_and_stay_in_a_mirror(name: str) -> None:
    photo = read_image(REPO_DIR / "examples" / name)
    detection = FaceDetector()(photo)[0]
    truth = FaceMesh()(read_image(REPO_DIR / "examples" / "astronaut.jpg"), [detection])[0].points  # unmasked
    mesh_eyes = np.stack([truth[list(MESH_RIGHT_EYE), :2].mean(0), truth[list(MESH_LEFT_EYE), :2].mean(0)])
    landmarks = Landmarks68()
    points = landmarks(photo, detection.box)
    assert points.shape == (68, 2)
    eyes = np.stack([points[list(RIGHT_EYE)].mean(0), points[list(LEFT_EYE)].mean(0)])
    eye_distance = float(np.linalg.norm(mesh_eyes[1] - mesh_eyes[0]))
    assert np.linalg.norm(eyes - mesh_eyes, axis=1).max() < 0.1 * eye_distance
    assert landmarks.mirror_disagreement(photo, detection.box, points) < 0.15


def test_a_wall_is_not_a_face_in_the_mirror() -> None:
    """The network draws a face on anything; on the astronaut's flag, a different one in the mirror."""
    photo = read_image(REPO_DIR / "examples" / "astronaut.jpg")
    assert Landmarks68().mirror_disagreement(photo, np.array([0.0, 0.0, 110.0, 110.0])) > 0.25


def test_converter_reproduces_the_bundled_file_and_onnxruntime(data_root: Path) -> None:
    pytest.importorskip("onnx", reason="onnx is a reference-extra dependency (conversion only)")
    path = data_root.parent / "models" / "faceplugin" / "fr_landmark.onnx"
    if not path.is_file():
        pytest.skip(f"faceplugin fr_landmark.onnx not found at {path}")
    state = load_tool("convert_faceplugin").convert_landmarks(path)
    _, bundled = LANDMARK68_FILE.read()
    assert set(state) == set(bundled)
    for name, value in state.items():
        expected = value.half().float() if value.is_floating_point() else value
        torch.testing.assert_close(expected, bundled[name].to(expected.dtype), rtol=0, atol=0)
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a reference-extra dependency")
    x = np.random.default_rng(0).uniform(0, 1, (1, 1, 64, 64)).astype(np.float32)
    theirs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    net = Landmark68Net().eval()
    net.load_state_dict(state)
    with torch.inference_mode():
        ours = net(torch.from_numpy(x))
    np.testing.assert_allclose(ours.numpy().reshape(1, 136), theirs, atol=1e-5)

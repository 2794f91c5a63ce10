"""The second face detector's port (faceplugin ``fr_detect``): bundled file, priors, parity with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import load_tool
from deocclude.faces.rfb import RFB_BUNDLED, RFB_FILE, RfbDetector, priors
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR

SOURCE_SHA256 = "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"


def _onnx_path(data_root: Path) -> Path:
    path = data_root.parent / "models" / "faceplugin" / "fr_detect.onnx"
    if not path.is_file():
        pytest.skip(f"faceplugin fr_detect.onnx not found at {path}")
    return path


def test_bundled_weights_small_fp16_with_their_source() -> None:
    from safetensors import safe_open

    assert RFB_BUNDLED.stat().st_size < 1e6
    with safe_open(str(RFB_BUNDLED), "pt") as f:
        assert f.metadata()["source_sha256"] == SOURCE_SHA256
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())


def test_priors_cover_the_input_at_four_strides() -> None:
    p = priors()
    assert p.shape == (4420, 4) and p.min() >= 0 and p.max() <= 1
    np.testing.assert_allclose(p[0], [0.5 / 40, 0.5 / 30, 10 / 320, 10 / 240], rtol=1e-6)
    np.testing.assert_allclose(p[-1], [4.5 / 5, 3.5 / 4, 256 / 320, 1.0], rtol=1e-6)  # 256 / 240 clipped to 1


def test_finds_the_astronaut_in_the_whole_photo() -> None:
    import cv2

    net, _ = RFB_FILE.load()
    photo = cv2.resize(read_image(REPO_DIR / "examples" / "astronaut.jpg"), (320, 240), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float().sub(127.0).div(128.0)
    with torch.inference_mode():
        scores, boxes = net(x)
    best = int(scores[0, :, 1].argmax())
    assert float(scores[0, best, 1]) > 0.99
    x0, y0, x1, y1 = (boxes[0, best].numpy() * [512, 512, 512, 512]).tolist()  # the photo is 512²
    assert 170 < (x0 + x1) / 2 < 280 and 80 < (y0 + y1) / 2 < 190  # her face, as in test_detect.py


def test_converter_reproduces_the_bundled_file_and_onnxruntime(data_root: Path) -> None:
    pytest.importorskip("onnx", reason="onnx is a reference-extra dependency (conversion only)")
    path = _onnx_path(data_root)
    state = load_tool("convert_faceplugin").convert_detector(path)
    _, bundled = RFB_FILE.read()
    assert set(state) == set(bundled)
    for name, value in state.items():
        torch.testing.assert_close(value.half().float(), bundled[name], rtol=0, atol=0)
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a reference-extra dependency")
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 240, 320)).astype(np.float32)
    scores, boxes = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    net = RfbDetector().eval()
    net.load_state_dict(state)
    with torch.inference_mode():
        ours = net(torch.from_numpy(x))
    np.testing.assert_allclose(ours[0].numpy(), scores, atol=1e-5)
    np.testing.assert_allclose(ours[1].numpy(), boxes, atol=1e-5)

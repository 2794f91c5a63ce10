"""Convert faceplugin's networks (MIT) to our fp16 safetensors: ``fr_feature.onnx`` (the ArcFace-class
embedding), ``fr_detect.onnx`` (the second face detector of the rescue) and ``fr_landmark.onnx`` (68
landmarks, the masked-face refit's alignment).

    .venv/bin/python tools/convert_faceplugin.py [--model feature|detect|landmark] [--onnx PATH] [--out PATH]

Needs the ``onnx`` package (the ``reference`` extra) at conversion time only. Walks the graph's
Conv (and PRelu) nodes in order and assigns their initializers to the conv / PReLU modules of
:class:`~deocclude.identity.arcface.ArcFaceMobile` or :class:`~deocclude.faces.rfb.RfbDetector`
in registration order, checking every shape and attribute (the detector's prior boxes and
variances against the graph's constants too); the source sha256 goes into the file's metadata.
With ``onnxruntime`` installed, the converted detector is also run beside the ONNX graph and the
largest difference printed.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deocclude.faces.landmarks68 import LANDMARK68_BUNDLED, LANDMARK68_FILE, Landmark68Net
from deocclude.faces.rfb import CENTER_VARIANCE, RFB_BUNDLED, RFB_FILE, SIZE_VARIANCE, RfbDetector, priors
from deocclude.identity.arcface import ARCFACE_BUNDLED, ARCFACE_FILE, ArcFaceMobile
from deocclude.model_file import NetworkFile
from deocclude.paths import data_root

SOURCE_SHA256 = "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"
DETECT_SHA256 = "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"
LANDMARK_SHA256 = "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"


def convert(onnx_path: Path) -> dict[str, torch.Tensor]:
    """Float32 state dict of ArcFaceMobile from the ONNX file."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    model = ArcFaceMobile()
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    prelus = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.PReLU)]
    state: dict[str, torch.Tensor] = {}
    ci = pi = 0
    for node in graph.node:
        if node.op_type == "Conv":
            name, conv = convs[ci]
            ci += 1
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            weight, bias = inits[node.input[1]], inits[node.input[2]]
            expected = (list(conv.stride), list(conv.padding) * 2, conv.groups)
            if (
                weight.shape != tuple(conv.weight.shape)
                or (attrs["strides"], attrs["pads"], attrs["group"]) != expected
            ):
                raise ValueError(f"{node.name or node.output[0]}: does not match {name} ({weight.shape}, {attrs})")
            state[f"{name}.weight"] = torch.from_numpy(weight.copy())
            state[f"{name}.bias"] = torch.from_numpy(bias.copy())
        elif node.op_type == "PRelu":
            name, prelu = prelus[pi]
            pi += 1
            slope = inits[node.input[1]].reshape(-1)
            if slope.shape != tuple(prelu.weight.shape):
                raise ValueError(f"PRelu {node.output[0]}: {slope.shape} vs {name}")
            state[f"{name}.weight"] = torch.from_numpy(slope.copy())
        elif node.op_type not in ("Add", "Reshape", "Flatten"):
            raise ValueError(f"unexpected op {node.op_type}")
    if ci != len(convs) or pi != len(prelus):
        raise ValueError(f"graph has {ci} convs / {pi} PReLUs, the module {len(convs)} / {len(prelus)}")
    model.load_state_dict(state)  # strict: every parameter assigned
    return state


def _conv_weights(node, inits: dict[str, np.ndarray], name: str, conv: nn.Conv2d) -> dict[str, torch.Tensor]:
    """One ONNX Conv node's weight and bias for ``conv``, after checking shape, stride, padding,
    groups and dilation."""
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    weight, bias = inits[node.input[1]], inits[node.input[2]]
    found = (weight.shape, attrs["strides"], attrs["pads"], attrs["group"], attrs.get("dilations", [1, 1]))
    expected = (tuple(conv.weight.shape), list(conv.stride), list(conv.padding) * 2, conv.groups, list(conv.dilation))
    if found != expected:
        raise ValueError(f"{node.output[0]}: {found} does not match {name} {expected}")
    return {f"{name}.weight": torch.from_numpy(weight.copy()), f"{name}.bias": torch.from_numpy(bias.copy())}


def _graph_convs(onnx_path: Path, model: nn.Module) -> tuple[Any, dict[str, np.ndarray], dict[str, torch.Tensor]]:
    """(graph, its initializers, the state dict of ``model``'s convs): the graph's Conv nodes assigned in order to
    the module's Conv2d layers in registration order, each checked (:func:`_conv_weights`)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    nodes = [n for n in graph.node if n.op_type == "Conv"]
    if len(nodes) != len(convs):
        raise ValueError(f"graph has {len(nodes)} convs, the module {len(convs)}")
    state: dict[str, torch.Tensor] = {}
    for node, (name, conv) in zip(nodes, convs):
        state.update(_conv_weights(node, inits, name, conv))
    return graph, inits, state


def convert_detector(onnx_path: Path) -> dict[str, torch.Tensor]:
    """Float32 state dict of RfbDetector from ``fr_detect.onnx``; its prior boxes and variances are
    checked against the graph's decoding constants."""
    from onnx import numpy_helper

    model = RfbDetector()
    graph, inits, state = _graph_convs(onnx_path, model)
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    tables = [v.reshape(-1, 2) for v in consts.values() if v.size == 2 * len(priors())]
    scalars = sorted(float(v) for v in consts.values() if v.size == 1 and float(v) not in (0.0, 1.0))
    ours = priors()
    if (len(tables) != 3 or not np.allclose(scalars, [CENTER_VARIANCE, SIZE_VARIANCE])
            or not any(np.allclose(t, ours[:, :2], atol=1e-6) for t in tables)
            or not any(np.allclose(t, ours[:, 2:], atol=1e-6) for t in tables)):
        raise ValueError("the graph's prior boxes or variances differ from deocclude.faces.rfb.priors()")
    model.load_state_dict(state)  # strict: every parameter assigned
    return state


def convert_landmarks(onnx_path: Path) -> dict[str, torch.Tensor]:
    """Float32 state dict of Landmark68Net from ``fr_landmark.onnx``: its convs in order, the Gemm as the
    linear layer, the final BatchNormalization as the BatchNorm1d (eval statistics)."""
    model = Landmark68Net()
    graph, inits, state = _graph_convs(onnx_path, model)
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    state["fc.weight"], state["fc.bias"] = (torch.from_numpy(inits[i].copy()) for i in gemm.input[1:3])
    norm = next(n for n in graph.node if n.op_type == "BatchNormalization")
    for key, name in zip(("weight", "bias", "running_mean", "running_var"), norm.input[1:5]):
        state[f"norm.{key}"] = torch.from_numpy(inits[name].copy())
    state["norm.num_batches_tracked"] = torch.tensor(0)
    model.load_state_dict(state)  # strict: every parameter assigned
    return state


def landmark_parity(onnx_path: Path, state: dict[str, torch.Tensor]) -> str:
    """Largest difference (in 64-px crop pixels) between onnxruntime's and our fp16-rounded landmarks
    on the bundled masked example's face."""
    try:
        import onnxruntime
    except ImportError:
        return "parity not measured (onnxruntime not installed)"
    import cv2

    from deocclude.imageio import read_image
    from deocclude.paths import REPO_DIR

    photo = read_image(REPO_DIR / "examples" / "astronaut_mask.jpg")
    grey = cv2.resize(cv2.cvtColor(photo[40:200, 150:310], cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA)
    x = (grey.astype(np.float32) / 255.0)[None, None]
    theirs = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0].reshape(68, 2)
    net = Landmark68Net().eval()
    net.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in state.items()})
    with torch.inference_mode():
        ours = net(torch.from_numpy(x))[0].numpy()
    return f"parity with onnxruntime (fp16 weights): max |point| diff {64 * np.abs(ours - theirs).max():.3f} px of 64"


def parity(onnx_path: Path, state: dict[str, torch.Tensor]) -> str:
    """Largest difference between onnxruntime's and our fp16-rounded detector on one real photo
    (or a reason it was not measured)."""
    try:
        import onnxruntime
    except ImportError:
        return "parity not measured (onnxruntime not installed)"
    import cv2

    from deocclude.imageio import read_image
    from deocclude.paths import REPO_DIR

    photo = cv2.resize(read_image(REPO_DIR / "examples" / "astronaut.jpg"), (320, 240), interpolation=cv2.INTER_AREA)
    x = (photo.astype(np.float32) - 127.0) / 128.0
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    scores, boxes = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})
    net = RfbDetector().eval()
    net.load_state_dict({k: v.half().float() for k, v in state.items()})
    with torch.inference_mode():
        ours = net(torch.from_numpy(x))
    return (f"parity with onnxruntime (fp16 weights): max |score| diff {np.abs(ours[0].numpy() - scores).max():.2e}, "
            f"max |box| diff {np.abs(ours[1].numpy() - boxes).max():.2e}, best face score {scores[0, :, 1].max():.3f}")


MODELS: dict[str, tuple[str, str, Path, NetworkFile, Callable[[Path], dict[str, torch.Tensor]]]] = {
    "feature": ("fr_feature.onnx", SOURCE_SHA256, ARCFACE_BUNDLED, ARCFACE_FILE, convert),
    "detect": ("fr_detect.onnx", DETECT_SHA256, RFB_BUNDLED, RFB_FILE, convert_detector),
    "landmark": ("fr_landmark.onnx", LANDMARK_SHA256, LANDMARK68_BUNDLED, LANDMARK68_FILE, convert_landmarks),
}
"""--model: (source file, its documented sha256, bundled path, file kind, converter function)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="feature")
    parser.add_argument("--onnx", type=Path, default=None, help="default ../shared/models/faceplugin/<source file>")
    parser.add_argument("--out", type=Path, default=None, help="default the bundled file")
    args = parser.parse_args()
    source, documented, bundled, kind, converter = MODELS[args.model]
    onnx_path = args.onnx or data_root().parent / "models" / "faceplugin" / source
    out = args.out or bundled
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    if digest != documented:
        print(f"warning: sha256 {digest} differs from the documented {documented}")
    state = converter(onnx_path)
    kind.save(state, out, extra={
        "source": f"faceplugin-face-recognition-js 0.0.1, package/model/{source}",
        "source_sha256": digest,
        "licence": "MIT (faceplugin); see NOTICE and MODEL_CARD.md",
        "converter": "tools/convert_faceplugin.py",
    })
    params = sum(int(np.prod(v.shape)) for v in state.values())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {params:,} parameters, source sha256 {digest})")
    if args.model == "detect":
        print(parity(onnx_path, state))
    if args.model == "landmark":
        print(landmark_parity(onnx_path, state))


if __name__ == "__main__":
    main()

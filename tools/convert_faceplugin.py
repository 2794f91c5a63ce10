"""Convert faceplugin's ``fr_feature.onnx`` (MIT) to our fp16 safetensors.

    .venv/bin/python tools/convert_faceplugin.py [--onnx ../shared/models/faceplugin/fr_feature.onnx] [--out PATH]

Needs the ``onnx`` package (the ``reference`` extra) at conversion time only. Walks the graph's
Conv and PRelu nodes in order and assigns their initializers to the conv / PReLU modules of
:class:`~deocclude.identity.arcface.ArcFaceMobile` in registration order, checking every
shape and attribute; the source sha256 goes into the file's metadata.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deocclude.identity.arcface import ARCFACE_BUNDLED, ARCFACE_FILE, ArcFaceMobile
from deocclude.paths import data_root

SOURCE_SHA256 = "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", type=Path, default=data_root().parent / "models" / "faceplugin" / "fr_feature.onnx")
    parser.add_argument("--out", type=Path, default=ARCFACE_BUNDLED)
    args = parser.parse_args()
    digest = hashlib.sha256(args.onnx.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        print(f"warning: sha256 {digest} differs from the documented {SOURCE_SHA256}")
    state = convert(args.onnx)
    ARCFACE_FILE.save(state, args.out, extra={
        "source": "faceplugin-face-recognition-js 0.0.1, package/model/fr_feature.onnx",
        "source_sha256": digest,
        "licence": "MIT (faceplugin); see NOTICE and MODEL_CARD.md",
        "converter": "tools/convert_faceplugin.py",
    })
    params = sum(int(np.prod(v.shape)) for v in state.values())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {params:,} parameters, source sha256 {digest})")


if __name__ == "__main__":
    main()

"""Weights for the identity network: find them, convert them once, load them.

Two public sources hold the same trained network:

* dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (public domain / Boost; shipped in
  the PyPI package ``face-recognition-models``), full float32 precision;
* ``@vladmandic/face-api``'s ``face_recognition_model.bin`` + weights manifest (MIT), a
  tfjs port whose tensors are mostly uint8-quantised.

Either is converted to our parameter names and cached as safetensors. Loading order:
an explicit path > the fp16 file bundled with the package > the cache > the sources.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from deocclude.errors import DeoccludeError
from deocclude.identity.dlib_format import DlibLayer, read_dlib_network
from deocclude.identity.network import DlibFaceResNet
from deocclude.model_file import NetworkFile, read_tensors
from deocclude.paths import WEIGHTS_DIR, cache_root, data_root

DLIB_FILE = "dlib_face_recognition_resnet_model_v1.dat"
FACE_API_MANIFEST = "face_recognition_model-weights_manifest.json"
BUNDLED_FILE = WEIGHTS_DIR / "identity_dlib_resnet.safetensors"
# converted, not trained: no config (one fixed architecture) and no training provenance, only its source
DLIB_RESNET_FILE: NetworkFile[DlibFaceResNet] = NetworkFile("identity", None, DlibFaceResNet, None, BUNDLED_FILE)
FACE_API_BLOCKS = (
    ["conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3"]
    + ["conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"]
)


def _param_order() -> Iterator[tuple[str, str]]:
    """(conv name, affine name) pairs in forward order: stem, then conv1/aff1, conv2/aff2 per block."""
    yield "conv", "aff"
    for i in range(len(FACE_API_BLOCKS)):
        yield f"blocks.{i}.conv1", f"blocks.{i}.aff1"
        yield f"blocks.{i}.conv2", f"blocks.{i}.aff2"


def _params(layer: DlibLayer, path: str | Path) -> np.ndarray:
    """A parameter layer's tensor (the reader fills it for every con / affine / fc layer)."""
    if layer.params is None:
        raise DeoccludeError(f"{path}: {layer.kind} layer without parameters")
    return layer.params


def convert_dlib(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict from dlib's ``.dat`` (parsed byte by byte, never unpickled)."""
    layers = read_dlib_network(path)
    convs = [layer for layer in layers if layer.kind == "con"]
    affines = [layer for layer in layers if layer.kind == "affine"]
    fcs = [layer for layer in layers if layer.kind == "fc"]
    names = list(_param_order())
    if len(convs) != len(names) or len(affines) != len(names) or len(fcs) != 1:
        raise DeoccludeError(f"{path}: layer counts do not match dlib's face-recognition ResNet")
    state: dict[str, torch.Tensor] = {}
    in_channels = 3
    for (conv_name, aff_name), conv, aff in zip(names, convs, affines):
        filters, rows, cols = conv.ints[:3]
        flat = _params(conv, path).reshape(-1)
        aff_params = _params(aff, path)
        weight_count = filters * in_channels * rows * cols
        if flat.size != weight_count + filters or aff_params.size != 2 * filters:
            raise DeoccludeError(f"{path}: unexpected tensor size in layer {conv_name}")
        weight = flat[:weight_count].reshape(filters, in_channels, rows, cols)
        state[f"{conv_name}.weight"] = torch.from_numpy(weight.copy())
        state[f"{conv_name}.bias"] = torch.from_numpy(flat[weight_count:].copy())
        gamma_beta = aff_params.reshape(2, filters)
        state[f"{aff_name}.gamma"] = torch.from_numpy(gamma_beta[0].copy())
        state[f"{aff_name}.beta"] = torch.from_numpy(gamma_beta[1].copy())
        in_channels = filters
    outputs, inputs, _ = fcs[0].ints
    state["fc.weight"] = torch.from_numpy(_params(fcs[0], path).reshape(inputs, outputs).T.copy())
    return state


def _read_tfjs(manifest_path: Path) -> dict[str, np.ndarray]:
    """Dequantised tensors of a tfjs weights manifest (``q * scale + min`` for uint8 entries)."""
    manifest = json.loads(manifest_path.read_text())
    tensors: dict[str, np.ndarray] = {}
    for group in manifest:
        blob = b"".join((manifest_path.parent / name).read_bytes() for name in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"]))
            quant = entry.get("quantization")
            if quant:
                if quant["dtype"] != "uint8":
                    raise DeoccludeError(f"{manifest_path}: unsupported quantisation {quant['dtype']}")
                raw = np.frombuffer(blob, dtype=np.uint8, count=count, offset=offset)
                values = raw.astype(np.float64) * quant["scale"] + quant["min"]
                offset += count
            else:
                values = np.frombuffer(blob, dtype="<f4", count=count, offset=offset)
                offset += 4 * count
            tensors[entry["name"]] = values.astype(np.float32).reshape(entry["shape"])
        if offset != len(blob):
            raise DeoccludeError(f"{manifest_path}: weights file size does not match the manifest")
    return tensors


def convert_face_api(manifest: str | Path) -> dict[str, torch.Tensor]:
    """State dict from face-api's tfjs files (a manifest path or the folder holding it)."""
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / FACE_API_MANIFEST
    tensors = _read_tfjs(manifest)
    prefixes = ["conv32_down"] + [f"{block}/{part}" for block in FACE_API_BLOCKS for part in ("conv1", "conv2")]
    state: dict[str, torch.Tensor] = {}
    try:
        for prefix, (conv_name, aff_name) in zip(prefixes, _param_order()):
            filters = tensors[f"{prefix}/conv/filters"]  # HWIO
            state[f"{conv_name}.weight"] = torch.from_numpy(np.ascontiguousarray(filters.transpose(3, 2, 0, 1)))
            state[f"{conv_name}.bias"] = torch.from_numpy(tensors[f"{prefix}/conv/bias"])
            state[f"{aff_name}.gamma"] = torch.from_numpy(tensors[f"{prefix}/scale/weights"])
            state[f"{aff_name}.beta"] = torch.from_numpy(tensors[f"{prefix}/scale/biases"])
        state["fc.weight"] = torch.from_numpy(np.ascontiguousarray(tensors["fc"].T))
    except KeyError as missing:
        raise DeoccludeError(f"{manifest}: tensor {missing} missing (not face-api's face recognition model?)") from None
    return state


def find_dlib_model() -> Path | None:
    """dlib's ``.dat``: ``$DEOCCLUDE_DLIB_MODEL``, else inside an installed ``face_recognition_models``."""
    env = os.environ.get("DEOCCLUDE_DLIB_MODEL")
    if env:
        return Path(env) if Path(env).is_file() else None
    spec = importlib.util.find_spec("face_recognition_models")  # locate without importing it
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "models" / DLIB_FILE
        if candidate.is_file():
            return candidate
    return None


def find_face_api_model() -> Path | None:
    """face-api's manifest: ``$DEOCCLUDE_FACE_API`` (folder), else ``models/face-api`` beside the data folder."""
    env = os.environ.get("DEOCCLUDE_FACE_API")
    folders = [Path(env)] if env else [data_root().parent / "models" / "face-api"]
    for folder in folders:
        if (folder / FACE_API_MANIFEST).is_file():
            return folder / FACE_API_MANIFEST
    return None


def convert_path(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict from any supported file: safetensors, dlib ``.dat``, face-api manifest or folder."""
    path = Path(path)
    if not path.exists():
        raise DeoccludeError(f"identity weights not found: {path}")
    if path.is_dir() or path.suffix == ".json":
        return convert_face_api(path)
    if path.suffix == ".safetensors":
        return read_tensors(path, "identity")[1]
    return convert_dlib(path)


def load_state_dict(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Float32 state dict: explicit path > bundled fp16 file > cache > dlib ``.dat`` > face-api."""
    if path is not None:
        return convert_path(path)
    if BUNDLED_FILE.is_file():
        return DLIB_RESNET_FILE.read(BUNDLED_FILE)[1]
    cached = sorted(cache_root().glob("identity_dlib_resnet_*.safetensors"))
    if cached:
        return DLIB_RESNET_FILE.read(cached[0])[1]
    for source, finder, converter in (
        ("dlib", find_dlib_model, convert_dlib),
        ("faceapi", find_face_api_model, convert_face_api),
    ):
        found = finder()
        if found is not None:
            state = converter(found)
            DLIB_RESNET_FILE.save(state, cache_root() / f"identity_dlib_resnet_{source}.safetensors", half=False)
            return state
    raise DeoccludeError(
        "identity network weights not found: install the PyPI package 'face-recognition-models' "
        f"(dlib's {DLIB_FILE}) or set DEOCCLUDE_FACE_API to a folder with @vladmandic/face-api's "
        f"{FACE_API_MANIFEST} and face_recognition_model.bin"
    )


def load_identity_network(
    path: str | Path | None = None, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> DlibFaceResNet:
    """The network in eval mode with frozen weights (gradients still flow to the input)."""
    network = DlibFaceResNet()
    network.load_state_dict(load_state_dict(path))
    network.eval().requires_grad_(False)
    return network.to(device=device, dtype=dtype)


def save_bundled(state: dict[str, torch.Tensor], path: str | Path = BUNDLED_FILE) -> Path:
    """Write the fp16 file that ships with the package."""
    return DLIB_RESNET_FILE.save(state, path, extra={
        "source": DLIB_FILE,
        "licence": "dlib model: public domain (Davis King); see MODEL_CARD",
    })

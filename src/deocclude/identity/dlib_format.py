"""Reader for dlib's binary serialisation of the face-recognition ResNet (``.dat``).

dlib writes a network recursively: the loss layer, then every layer from the *output*
down to the input (each ``add_layer`` writes its version and then its sub-network first),
so the file starts with a run of version numbers, then the input layer, then the details
of each layer from the input upwards. We read that stream with the few primitives dlib
uses (variable-length integers, strings, mantissa/exponent floats, ASCII bools, float32
tensors) and keep only the parameter tensors, in forward order. No code from the file is
executed: this is a plain byte parser (dlib's ``.dat`` is not a pickle, but we also never
hand it to anything that could run code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError


@dataclass
class DlibLayer:
    """One computational layer as stored by dlib (name without version suffix)."""

    kind: str
    params: np.ndarray | None = None
    ints: list[int] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DeoccludeError("dlib model file is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def peek_byte(self) -> int:
        return self.data[self.pos]

    def integer(self) -> int:
        head = self._take(1)[0]
        size, negative = head & 0x0F, bool(head & 0x80)
        if size > 8:
            raise DeoccludeError("not a dlib model file (bad integer encoding)")
        value = int.from_bytes(self._take(size), "little") if size else 0
        return -value if negative else value

    def string(self) -> str:
        length = self.integer()
        if not 0 <= length <= 256:
            raise DeoccludeError("not a dlib model file (bad string length)")
        return self._take(length).decode("ascii", errors="replace")

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's markers for inf / -inf / nan
            return float("nan")
        return float(mantissa) * 2.0**exponent

    def boolean(self) -> bool:
        byte = self._take(1)
        if byte not in (b"0", b"1"):
            raise DeoccludeError("not a dlib model file (bad bool)")
        return byte == b"1"

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise DeoccludeError(f"unsupported dlib tensor version {version}")
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def alias_tensor(self) -> list[int]:
        if self.integer() != 1:
            raise DeoccludeError("unsupported dlib alias_tensor version")
        return [self.integer() for _ in range(4)]

    def looks_like_tensor(self) -> bool:
        """True when the next bytes are a (version 2) tensor header rather than a layer name."""
        return self.data[self.pos : self.pos + 2] == b"\x01\x02"


def _read_details(reader: _Reader) -> DlibLayer:
    name = reader.string()
    if name == "con_4":
        params = reader.tensor()
        ints = [reader.integer() for _ in range(7)]  # filters, nr, nc, stride y/x, padding y/x
        reader.alias_tensor(), reader.alias_tensor()
        [reader.real() for _ in range(4)]
        return DlibLayer("con", params, ints)
    if name == "affine_":
        params = reader.tensor()
        reader.alias_tensor(), reader.alias_tensor()
        mode = reader.integer()
        return DlibLayer("affine", params, [mode])
    if name in ("relu_", "add_prev_"):
        return DlibLayer(name.rstrip("_"))
    if name in ("max_pool_2", "avg_pool_2"):
        return DlibLayer(name[:-2], None, [reader.integer() for _ in range(6)])
    if name == "fc_2":
        outputs, inputs = reader.integer(), reader.integer()
        params = reader.tensor()
        reader.alias_tensor(), reader.alias_tensor()
        bias_mode = reader.integer()
        [reader.real() for _ in range(4)]
        return DlibLayer("fc", params, [outputs, inputs, bias_mode])
    raise DeoccludeError(f"unexpected layer '{name}' in dlib model file (not the face-recognition ResNet?)")


def read_dlib_network(path: str | Path) -> list[DlibLayer]:
    """All layers of a dlib ``loss_metric`` network file, input side first.

    Tag and skip layers carry no data in the stream and do not appear in the result;
    the network topology is fixed by :mod:`deocclude.identity.network`.
    """
    reader = _Reader(Path(path).read_bytes())
    if reader.integer() != 1 or reader.string() != "loss_metric_2":
        raise DeoccludeError(
            f"{path} is not a dlib metric-learning network (dlib_face_recognition_resnet_model_v1.dat)"
        )
    reader.real(), reader.real()  # margin, distance threshold
    depth = 0
    while True:  # the nesting: 2 = add_layer, 1 = tag/skip layer, 3 = the add_layer on the input
        version = reader.integer()
        if version == 3:
            break
        if version not in (1, 2):
            raise DeoccludeError("unexpected layer nesting in dlib model file")
        depth += version == 2
    if reader.string() != "input_rgb_image_sized":
        raise DeoccludeError("dlib model file does not start with an RGB image input")
    mean = [reader.real() for _ in range(3)]
    size = [reader.integer(), reader.integer()]
    layers: list[DlibLayer] = []
    while reader.pos < len(reader.data):
        layer = _read_details(reader)
        layers.append(layer)
        for _ in range(3):  # setup called, gradient stale, output/gradient getters disabled
            reader.boolean()
        while reader.pos < len(reader.data) and reader.looks_like_tensor():
            reader.tensor()  # x_grad, cached_output, (grad_final), params_grad: empty buffers
        if len(layers) == 1 and reader.integer() != 1:  # the input-side add_layer: sample expansion factor
            raise DeoccludeError("dlib model file: unexpected sample expansion factor")
    if len(layers) != depth + 1:
        raise DeoccludeError(f"dlib model file: found {len(layers)} layers, expected {depth + 1}")
    layers.insert(0, DlibLayer("input", np.array(mean, dtype=np.float64), size))
    return layers

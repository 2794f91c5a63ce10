"""Inference for R: ``reconstruct(images) -> (x, I_R, M_R)`` and the 3-D face as an ``.obj``.

Weights are the one model-file format (:mod:`deocclude.model_file`, :data:`R_FILE`): fp16
safetensors whose metadata carries the network shape (``config``) and the crop size R was
trained at (``size``). Inputs are aligned face crops (the canonical
framing of :mod:`deocclude.faces.align`) of any size: they are resized to the training
size for the regressor, and the face is rendered back at the input's size (the camera
is defined per image size, so x does not depend on N).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from deocclude import precision
from deocclude.device import resolve_device
from deocclude.model_file import NetworkFile
from deocclude.paths import WEIGHTS_DIR
from deocclude.reconstruct.face_model import FaceModel
from deocclude.reconstruct.regressor import Regressor
from deocclude.reconstruct.regressor_config import RegressorConfig

DEFAULT_WEIGHTS = WEIGHTS_DIR / "reconstruct_r.safetensors"
R_FILE: NetworkFile[Regressor] = NetworkFile("reconstruction", "deocclude.reconstruct/1", Regressor, RegressorConfig,
                                             DEFAULT_WEIGHTS)


class Reconstruction(NamedTuple):
    """R's outputs; unpacks as ``x, I_R, M_R``."""

    x: torch.Tensor  # (B, 257) coefficients
    image: torch.Tensor  # (B, 3, N, N) I_R in [0, 1], 0 outside the face
    mask: torch.Tensor  # (B, 1, N, N) M_R, 1 = face surface


class Reconstructor:
    """A loaded R and face model: ``Reconstructor()(crops) -> Reconstruction``.

    ``weights``: a weights file (default: the bundled one) or an in-memory
    :class:`Regressor` (then ``size`` is its training crop size). ``fast``: on a CPU, the regressor
    (not the render, which stays fp32) runs in the layout / dtype :mod:`deocclude.precision`'s
    probe finds fastest; None = that unless ``$DEOCCLUDE_BF16=0``; False = fp32 NCHW.
    """

    def __init__(
        self,
        weights: str | Path | Regressor = DEFAULT_WEIGHTS,
        face_model: str | Path | FaceModel | None = None,
        device: str | torch.device = "cpu",
        size: int = 128,
        fast: bool | None = None,
    ) -> None:
        self.device = resolve_device(device)
        if isinstance(weights, Regressor):
            self.net, self.size = weights.to(self.device).eval(), size
        else:
            self.net, info = R_FILE.load(weights, self.device)
            assert info.size is not None  # a file with a config always has a size (NetworkFile.read)
            self.size = info.size
        self.mode = precision.mode_for(self.device, fast)
        self.net = precision.channels_last(self.net, self.mode.channels_last)
        model = face_model if isinstance(face_model, FaceModel) else FaceModel.load(face_model)
        self.face_model = model.to(self.device)

    @torch.no_grad()
    def __call__(self, images: np.ndarray | torch.Tensor) -> Reconstruction:
        """Aligned crops: float tensor (B, 3, N, N) / (3, N, N) in [0, 1], or uint8 arrays (N, N, 3) / (B, N, N, 3)."""
        from deocclude.face_batch import image_batch, resize_images

        crops = image_batch(images, "reconstruct")[0].to(self.device)
        n = crops.shape[-1]
        inputs = crops if n == self.size else resize_images(crops, (self.size, self.size))
        with precision.autocast(self.mode.bf16):
            x = self.net(precision.as_channels_last(inputs, self.mode.channels_last)).float()
        with torch.autocast(self.device.type, enabled=False):  # the rasterizer's depth test needs fp32
            rendered = self.face_model.render(x, n)
        return Reconstruction(x, rendered.image.clamp(0, 1), rendered.mask)

    @torch.no_grad()
    def landmarks(self, x: torch.Tensor | np.ndarray, size: int) -> np.ndarray:
        """(B, 468, 3) float64: the face model's vertices for coefficients ``x`` (B, 257) projected into an
        N × N crop (``size``): u, v in pixels and the projection's depth. The face model has the mesh's
        468-vertex topology, so these stand in for MediaPipe's landmarks where no mesh ran (a canonical
        crop, a masked face the mesh refused: :mod:`deocclude.faces.refit`)."""
        coefficients = torch.as_tensor(x, dtype=torch.float32).to(self.device)
        with torch.autocast(self.device.type, enabled=False):
            return self.face_model.landmarks(coefficients, size).cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def mesh(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posed vertices (B, 468, 3) in camera space (X right, Y up, Z to the viewer), their
        albedo colours (B, 468, 3) in [0, 1] and the triangles (F, 3) of the face of x."""
        fm = self.face_model
        x = x.to(self.device).float()
        verts = fm.camera_vertices(x)
        texture = fm.albedo(x[:, fm.layout.albedo])  # (B, 3, T, T)
        grid = (fm.uv * 2 - 1).view(1, 1, -1, 2).expand(len(x), -1, -1, -1)
        colours = F.grid_sample(texture, grid, mode="bilinear", padding_mode="border", align_corners=False)
        colours = colours[:, :, 0].transpose(1, 2).clamp(0, 1)
        return verts.cpu().numpy(), colours.cpu().numpy(), fm.triangles.cpu().numpy()


@functools.lru_cache(maxsize=2)
def default_reconstructor(device: str = "cpu") -> Reconstructor:
    """The bundled R on ``device``, loaded once."""
    return Reconstructor(device=device)


def reconstruct(images: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> Reconstruction:
    """``(x, I_R, M_R)`` of aligned face crops with the bundled weights (see :class:`Reconstructor`)."""
    return default_reconstructor(str(device))(images)


def write_obj(path: str | Path, vertices: np.ndarray, triangles: np.ndarray, colours: np.ndarray | None = None) -> Path:
    """One face as a Wavefront ``.obj`` (vertex colours as the common ``v x y z r g b`` extension)."""
    path = Path(path)
    lines = [
        "# deocclude reconstruction: 468 MediaPipe-topology vertices, camera space (X right, Y up, Z to the viewer)"
    ]
    for i, v in enumerate(np.asarray(vertices, dtype=np.float64)):
        extra = "" if colours is None else " {:.4f} {:.4f} {:.4f}".format(*np.asarray(colours[i], dtype=np.float64))
        lines.append(f"v {v[0]:.6f} {v[1]:.6f} {v[2]:.6f}{extra}")
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(triangles, dtype=np.int64)]
    path.write_text("\n".join(lines) + "\n")
    return path


__all__ = ["DEFAULT_WEIGHTS", "R_FILE", "Reconstruction", "Reconstructor", "reconstruct", "write_obj",
           "default_reconstructor"]

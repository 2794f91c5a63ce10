"""Our linear 3D face model (docs/design.md §3): geometry, albedo, camera and lighting of x.

The model is built from data by ``deocclude build-face-model`` (see
:mod:`deocclude.reconstruct.build`) and bundled as ``weights/face_model.safetensors``.

Coordinates. Model space: X right, Y up, Z towards the viewer, units such that the mean
face is about 2 wide. A vertex is posed as ``R(angles) @ v + t0 + t`` (rotation about the
mean face's centroid) and seen by a pinhole camera on the +Z axis at ``distance`` from
the origin, looking down -Z, with focal length ``focal * N`` pixels for an N x N image
whose principal point is the image centre. ``t0`` puts the mean face, for x = 0, onto the
canonical landmark template of :mod:`deocclude.faces.align`; so x = 0 is "the average
face, frontal, in the canonical crop, under uniform white light".

Shape and albedo coefficients are in units of each PCA component's std-dev (their prior
is N(0, 1)); light is an offset to the default SH light (1, 0, ..., 0) per channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from deocclude.errors import DeoccludeError
from deocclude.paths import WEIGHTS_DIR
from deocclude.reconstruct.layout import CoefficientLayout
from deocclude.reconstruct.render import Shaded, render_mesh

DEFAULT_PATH = WEIGHTS_DIR / "face_model.safetensors"
N_VERTICES = 468


class Rendered(NamedTuple):
    """What R and G use: the rendered face, its coverage and its 2-D landmarks."""

    image: torch.Tensor  # (B, 3, N, N), 0 outside the face
    mask: torch.Tensor  # (B, 1, N, N), 1 = face surface (eyes and mouth included)
    landmarks: torch.Tensor  # (B, 468, 2) pixel positions of the vertices (centre of pixel (i,j) = (j+.5, i+.5))


def rotation_matrix(angles: torch.Tensor) -> torch.Tensor:
    """(B, 3) pitch, yaw, roll (radians) -> (B, 3, 3) = Rz(roll) @ Ry(yaw) @ Rx(pitch)."""
    p, y, r = angles.unbind(-1)
    one, zero = torch.ones_like(p), torch.zeros_like(p)
    rx = torch.stack([one, zero, zero, zero, p.cos(), -p.sin(), zero, p.sin(), p.cos()], -1)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], -1)
    rz = torch.stack([r.cos(), -r.sin(), zero, r.sin(), r.cos(), zero, zero, zero, one], -1)
    shape = (*angles.shape[:-1], 3, 3)
    return rz.reshape(shape) @ ry.reshape(shape) @ rx.reshape(shape)


def angles_from_rotation(rot: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rotation_matrix` for |yaw| < 90 degrees: (B, 3, 3) -> (B, 3)."""
    yaw = torch.asin((-rot[..., 2, 0]).clamp(-1.0, 1.0))
    pitch = torch.atan2(rot[..., 2, 1], rot[..., 2, 2])
    roll = torch.atan2(rot[..., 1, 0], rot[..., 0, 0])
    return torch.stack([pitch, yaw, roll], dim=-1)


@dataclass(frozen=True)
class Camera:
    """Pinhole camera on the +Z axis; ``focal`` is in units of the image size."""

    focal: float
    distance: float

    def project(self, verts: torch.Tensor, size: int) -> torch.Tensor:
        """Camera-space (B, V, 3) -> screen (B, V, 3) = (u px, v px, depth)."""
        depth = (self.distance - verts[..., 2]).clamp(min=1e-3)
        f = self.focal * size
        u = size / 2 + f * verts[..., 0] / depth
        v = size / 2 - f * verts[..., 1] / depth
        return torch.stack([u, v, depth], dim=-1)


class FaceModel(nn.Module):
    """Linear face model + renderer; all arrays are buffers, so ``.to(device)`` works.

    Use :meth:`load` to read the bundled file, :meth:`render` to turn x into pixels.
    """

    # buffers (registered in __init__; declared here so type checkers see tensors, not Tensor | Module)
    mean_shape: torch.Tensor
    shape_basis: torch.Tensor
    shape_std: torch.Tensor
    triangles: torch.Tensor
    uv: torch.Tensor
    mean_albedo: torch.Tensor
    albedo_basis: torch.Tensor
    albedo_std: torch.Tensor
    default_translation: torch.Tensor
    mirror: torch.Tensor

    def __init__(self, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
        super().__init__()
        self.metadata = dict(metadata or {})
        f32 = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
        self.register_buffer("mean_shape", f32["mean_shape"])  # (V, 3)
        self.register_buffer("shape_basis", f32["shape_basis"])  # (Ks, V, 3), std-scaled
        self.register_buffer("shape_std", f32["shape_std"])  # (Ks,)
        self.register_buffer("triangles", f32["triangles"].long())  # (F, 3), holes included
        self.register_buffer("uv", f32["uv"])  # (V, 2)
        self.register_buffer("mean_albedo", f32["mean_albedo"])  # (3, T, T)
        self.register_buffer("albedo_basis", f32["albedo_basis"])  # (Ka, 3, T, T), std-scaled
        self.register_buffer("albedo_std", f32["albedo_std"])  # (Ka,)
        self.register_buffer("default_translation", f32["default_translation"])  # (3,)
        self.register_buffer("mirror", f32["mirror"].long())  # (V,) index of the mirrored vertex
        for optional in ("shape_explained", "albedo_explained"):  # cumulative variance fractions
            if optional in f32:
                self.register_buffer(optional, f32[optional])
        cam = f32["camera"]
        self.camera = Camera(focal=float(cam[0]), distance=float(cam[1]))
        self.n_mesh_triangles = int(self.metadata.get("n_mesh_triangles", self.triangles.shape[0]))
        self.layout = CoefficientLayout(n_shape=self.shape_basis.shape[0], n_albedo=self.albedo_basis.shape[0])

    # ------------------------------------------------------------------ files
    @classmethod
    def load(cls, path: str | Path | None = None, device: torch.device | str | None = None) -> FaceModel:
        """Load the model (default: the bundled ``weights/face_model.safetensors``)."""
        from safetensors import safe_open

        path = Path(path) if path is not None else DEFAULT_PATH
        if not path.is_file():
            raise DeoccludeError(f"face model not found: {path} (build it with `deocclude build-face-model`)")
        try:
            with safe_open(str(path), framework="pt") as fh:
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}
                metadata = fh.metadata() or {}
        except Exception as exc:  # corrupt file: tell the user which one
            raise DeoccludeError(f"cannot read face model {path}: {exc}") from exc
        model = cls(tensors, metadata)
        return model.to(device) if device is not None else model

    def save(self, path: str | Path, half: bool = True) -> None:
        """Write one safetensors file; large bases in fp16 when ``half``."""
        from safetensors.torch import save_file

        big = {"shape_basis", "mean_albedo", "albedo_basis"}
        tensors = {}
        for name, buf in self.named_buffers():
            t = buf.detach().cpu().contiguous()
            if name in {"triangles", "mirror"}:
                t = t.int()
            elif half and name in big:
                t = t.half()
            tensors[name] = t
        tensors["camera"] = torch.tensor([self.camera.focal, self.camera.distance], dtype=torch.float32)
        meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.metadata.items()}
        meta["n_mesh_triangles"] = str(self.n_mesh_triangles)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)

    # -------------------------------------------------------------- geometry
    @property
    def texture_size(self) -> int:
        return int(self.mean_albedo.shape[-1])

    def shape(self, shape_coeffs: torch.Tensor) -> torch.Tensor:
        """Model-space vertices (B, V, 3) for shape coefficients (B, Ks)."""
        offset = torch.einsum("bk,kvc->bvc", shape_coeffs, self.shape_basis)
        return self.mean_shape + offset

    def camera_vertices(self, x: torch.Tensor) -> torch.Tensor:
        """Posed vertices in camera space (B, V, 3)."""
        c = self.layout.split(x)
        verts = self.shape(c.shape)
        rot = rotation_matrix(c.angles)
        return verts @ rot.transpose(1, 2) + (self.default_translation + c.translation).unsqueeze(1)

    def landmarks(self, x: torch.Tensor, size: int) -> torch.Tensor:
        """(B, 468, 3): pixel positions (u, v) and depth of the vertices in an N x N image."""
        return self.camera.project(self.camera_vertices(x), size)

    # ------------------------------------------------------------ appearance
    def albedo(self, albedo_coeffs: torch.Tensor) -> torch.Tensor:
        """Albedo UV textures (B, 3, T, T)."""
        flat = albedo_coeffs @ self.albedo_basis.flatten(1)
        return self.mean_albedo + flat.view(-1, *self.mean_albedo.shape)

    def light(self, light_coeffs: torch.Tensor) -> torch.Tensor:
        """SH light (B, 9, 3): the default uniform white light plus the coefficients."""
        base = torch.zeros_like(light_coeffs)
        base[:, 0, :] = 1.0
        return base + light_coeffs

    def render(self, x: torch.Tensor, size: int) -> Rendered:
        """Render coefficients x (B, 257) into an N x N image: (I_R, M_R, landmarks).

        Differentiable w.r.t. x (pose and shape through the pixel positions, albedo and
        light through the colours); visibility itself has no gradient.
        """
        shaded, screen = self.render_full(x, size)
        return Rendered(image=shaded.image, mask=shaded.mask, landmarks=screen[..., :2])

    def render_full(self, x: torch.Tensor, size: int) -> tuple[Shaded, torch.Tensor]:
        """Like :meth:`render` but also returns the rasterization and the screen vertices
        (B, V, 3) (for fitting and texture unwrapping)."""
        c = self.layout.split(x)
        verts = self.camera_vertices(x)
        screen = self.camera.project(verts, size)
        shaded = render_mesh(verts, screen, self.triangles, self.uv, self.albedo(c.albedo),
                             self.light(c.light), size)
        return shaded, screen


def render_coefficients(x: torch.Tensor, size: int, model: FaceModel | None = None) -> Rendered:
    """Functional form: ``(I_R, M_R, landmarks2d)`` of x with the bundled model."""
    model = model if model is not None else _default_model(x.device)
    return model.render(x, size)


_CACHE: dict[str, FaceModel] = {}


def _default_model(device: torch.device) -> FaceModel:
    key = str(device)
    if key not in _CACHE:
        _CACHE[key] = FaceModel.load(device=device)
    return _CACHE[key]


__all__ = ["FaceModel", "Rendered", "Camera", "rotation_matrix", "angles_from_rotation",
           "render_coefficients", "DEFAULT_PATH", "N_VERTICES"]

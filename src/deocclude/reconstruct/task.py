"""R as a task of the shared training loop (``deocclude train reconstruct``, docs/method.md §4).

Input: a training face with a synthetic occluder drawn on it (every category of the
synthesizer's train split, heavy ones included; ``clean_fraction`` of the samples stay
clean so that robustness does not cost accuracy on unoccluded faces). Targets: all from
the clean face — the teacher's x* (``deocclude fit``), the clean image and its M_F.
Validation runs R on val faces, clean and with one held-out occluder each, and compares
with the teacher on the clean face (:mod:`deocclude.reconstruct.evaluation`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from deocclude.data import UTKFaceFaces
from deocclude.errors import DeoccludeError
from deocclude.paths import utkface_root
from deocclude.reconstruct.evaluation import render_errors
from deocclude.reconstruct.face_model import FaceModel
from deocclude.reconstruct.losses import ReconstructLoss
from deocclude.reconstruct.regressor import Regressor
from deocclude.reconstruct.regressor_config import ReconstructTrainConfig
from deocclude.synth import OcclusionSynthesizer
from deocclude.train.grid import overlay, tile, to_rgb_uint8
from deocclude.train.task import Batch, Models, Stage, Task


def load_teacher_table(path: str, size: int) -> dict[str, np.ndarray]:
    """The teacher cache (``names``, ``x`` arrays written by ``deocclude fit``) as {face name: x*}.

    ``path`` "" means the default cache file of :mod:`deocclude.reconstruct.cache`.
    """
    if not path:
        from deocclude.reconstruct.cache import teacher_cache_path

        path = str(teacher_cache_path(size))
    if not Path(path).is_file():
        raise DeoccludeError(f"teacher cache not found: {path} (run `deocclude fit`)")
    with np.load(path, allow_pickle=False) as data:
        return {str(n): x.astype(np.float32) for n, x in zip(data["names"], data["x"])}


def coefficient_scale(x_star: np.ndarray, floor: float = 1e-3) -> torch.Tensor:
    """R's per-coefficient output scale: the spread (std-dev) of x* over the training faces."""
    return torch.from_numpy(np.maximum(x_star.std(0), floor).astype(np.float32))


class TeacherFaces(Dataset):
    """The faces of one split that have a cached x*, each with it as ``x_star`` (257,)."""

    def __init__(self, split: str, size: int, table: dict[str, np.ndarray], limit: int = 0) -> None:
        faces = UTKFaceFaces(utkface_root(), split=split, size=size)
        keep = [i for i, n in enumerate(faces.names) if n in table]
        if limit > 0:
            keep = keep[:limit]
        if not keep:
            raise DeoccludeError(f"no {split} face has a teacher fit x* yet (run `deocclude fit --splits {split}`)")
        self.faces = Subset(faces, keep)
        self.x_star = np.stack([table[faces.names[i]] for i in keep]).astype(np.float32)

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.faces[i])
        item["x_star"] = torch.from_numpy(self.x_star[i])
        return item


def _sample(item: dict, occluded: torch.Tensor) -> dict[str, torch.Tensor]:
    """What a training/validation step needs of a face; M_F is zero outside the real photo."""
    return {
        "input": occluded.contiguous(),
        "image": item["image"],
        "face_mask": item["face_mask"],
        "x_star": item["x_star"],
    }


def occlude(synth: OcclusionSynthesizer, item: dict, rng: np.random.Generator) -> torch.Tensor:
    """The face's image with one synthetic occluder of a random category (eq. 2)."""
    occ = synth(item["image"].permute(1, 2, 0).numpy(), item["landmarks"].numpy(), rng, None)
    return torch.from_numpy(occ.image).permute(2, 0, 1).float()


class ReconstructTrainSet(Dataset):
    """Key ``(position, seed)`` → an occluded (or clean) face and its clean targets."""

    def __init__(self, faces: TeacherFaces, clean_fraction: float) -> None:
        self.faces = faces
        self.clean_fraction = clean_fraction
        self.synth = OcclusionSynthesizer(split="train")

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        pos, seed = key
        item = self.faces[pos]
        rng = np.random.default_rng(seed)
        occluded = item["image"] if rng.random() < self.clean_fraction else occlude(self.synth, item, rng)
        return _sample(item, occluded)


class ReconstructValSet(Dataset):
    """Val faces, each with one held-out occluder fixed by (seed, index)."""

    def __init__(self, faces: TeacherFaces, seed: int) -> None:
        self.faces = faces
        self.seed = seed
        self.synth = OcclusionSynthesizer(split="test")

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.faces[i]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, i]))
        return _sample(item, occlude(self.synth, item, rng))


def load_encoder_init(path: str) -> dict[str, torch.Tensor]:
    """S's encoder tensors (keys without the ``encoder.`` prefix) from a weights file or run folder."""
    from deocclude.model_file import read_tensors

    p = Path(path)
    if p.is_dir():
        candidates = [
            p / "final" / "weights.safetensors",
            p / "checkpoint" / "models.safetensors",
            p / "models.safetensors",
        ]
        p = next((c for c in candidates if c.is_file()), p)
    if not p.is_file():
        raise DeoccludeError(f"encoder init not found: {path}")
    _, tensors = read_tensors(p, "encoder init")
    out = {}
    for k, v in tensors.items():
        head, sep, rest = k.partition("encoder.")
        if sep and head in ("", "net.", "module.", "net.module."):
            out[rest] = v.float()
    if not out:
        raise DeoccludeError(f"{p} holds no encoder.* tensors")
    return out


class ReconstructTask(Task):
    """Model: one :class:`Regressor` (``net``). Loss: eq. 9 against the clean face's targets."""

    name = "reconstruct"

    def __init__(self, config: ReconstructTrainConfig) -> None:
        self.config = config
        self.table = load_teacher_table(config.teacher, config.size)
        self.face_model = FaceModel.load(config.face_model or None)
        if self.face_model.layout.size != config.model.n_coefficients:
            raise DeoccludeError(
                f"face model has {self.face_model.layout.size} coefficients, R predicts {config.model.n_coefficients}"
            )
        self._loss: ReconstructLoss | None = None

    # -- models ------------------------------------------------------------------------
    def build_models(self) -> dict[str, torch.nn.Module]:
        train = TeacherFaces(self.config.train_split, self.config.size, self.table, self.config.train_limit)
        net = Regressor(self.config.model, coefficient_scale(train.x_star))
        if self.config.encoder_init:
            missing, unexpected = net.encoder.load_state_dict(load_encoder_init(self.config.encoder_init), strict=False)
            if missing:
                raise DeoccludeError(
                    f"encoder init {self.config.encoder_init} does not match R's encoder: missing {missing[:3]}"
                )
        return {"net": net}

    def loss(self, device: torch.device) -> ReconstructLoss:
        """The loss with the face model and the frozen identity net on ``device`` (moved once)."""
        if self._loss is None or self._loss.face_model.mean_shape.device != device:
            from deocclude.identity import load_identity_network
            from deocclude.identity.embed import face_embedding

            network = load_identity_network(device=device)  # eval mode, frozen
            self.face_model = self.face_model.to(device)
            self._loss = ReconstructLoss(
                self.face_model, lambda crops: face_embedding(crops, network), self.config.loss
            )
        return self._loss

    def stages(self) -> list[Stage]:
        return [Stage("net", self._losses)]

    def _losses(self, models: Models, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        x = models["net"](batch["input"])
        with torch.autocast(x.device.type, enabled=False):  # the renderer and the losses in fp32
            terms, _ = self.loss(x.device)(
                x.float(), batch["x_star"], batch["image"].float(), batch["face_mask"].float()
            )
        return terms

    # -- data --------------------------------------------------------------------------
    def train_dataset(self) -> Dataset:
        c = self.config
        return ReconstructTrainSet(TeacherFaces(c.train_split, c.size, self.table, c.train_limit), c.clean_fraction)

    def val_dataset(self) -> Dataset:
        c = self.config
        return ReconstructValSet(TeacherFaces("val", c.size, self.table, c.val_limit), c.val_seed)

    # -- validation --------------------------------------------------------------------
    def val_step(self, models: Models, batch: Batch) -> dict[str, torch.Tensor]:
        net = models["net"]
        fm = self.loss(batch["image"].device).face_model
        size = batch["image"].shape[-1]
        image, face_mask = batch["image"].float(), batch["face_mask"].float()
        with torch.autocast(image.device.type, enabled=False):
            reference = fm.render(batch["x_star"].float(), size)
            zero = fm.render(torch.zeros_like(batch["x_star"]).float(), size)
            out: dict[str, torch.Tensor] = {"faces": torch.tensor(float(len(image)), dtype=torch.float64)}
            for kind, inputs in (("occluded", batch["input"]), ("clean", batch["image"])):
                x = net(inputs).float()
                errs = render_errors(fm.render(x, size), reference, image, face_mask)
                for k, v in errs.items():
                    out[f"{kind}_{k}"] = v.double().sum()
                out[f"{kind}_coef"] = ((x - batch["x_star"]) ** 2).mean(1).double().sum()
            for k, v in render_errors(zero, reference, image, face_mask).items():
                out[f"meanface_{k}"] = v.double().sum()
        return out

    def summarize(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        n = float(sums["faces"])
        out = {k: round(float(v) / n, 5) for k, v in sums.items() if k != "faces"}
        out["val_faces"] = n
        return out

    @torch.no_grad()
    def grid(self, models: Models, batch: Batch) -> np.ndarray:
        """Rows: faces. Columns: occluded input I' | I_R of R(I') | M_R of R(I') on I' | clean I | teacher's I_R(x*)."""
        net = models["net"]
        n = min(8, len(batch["image"]))
        fm = self.loss(batch["image"].device).face_model
        size = batch["image"].shape[-1]
        with torch.autocast(batch["image"].device.type, enabled=False):
            pred = fm.render(net(batch["input"][:n]).float(), size)
            ref = fm.render(batch["x_star"][:n].float(), size)
        rows = []
        for i in range(n):
            occ = batch["input"][i].float()
            rows.append(
                [
                    to_rgb_uint8(occ),
                    to_rgb_uint8(pred.image[i]),
                    to_rgb_uint8(overlay(occ, pred.mask[i] >= 0.5)),
                    to_rgb_uint8(batch["image"][i]),
                    to_rgb_uint8(ref.image[i]),
                ]
            )
        return tile(rows)

    def export(self, models: Models) -> dict[str, torch.Tensor]:
        return dict(models["net"].state_dict())

    def export_metadata(self) -> dict[str, str]:
        from deocclude.reconstruct.inference import R_FILE

        return R_FILE.metadata(self.config.model, self.config.size)

    @classmethod
    def provenance(cls, config: ReconstructTrainConfig) -> dict[str, Any]:
        """x only means something with the face model R was trained against: record its hash, and the teacher's."""
        import hashlib

        from deocclude.reconstruct.cache import teacher_cache_path
        from deocclude.reconstruct.face_model import DEFAULT_PATH

        def sha(path: Path) -> str:
            return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"

        teacher = Path(config.teacher) if config.teacher else teacher_cache_path(config.size)
        inputs = {"face_model_sha256": sha(Path(config.face_model) if config.face_model else DEFAULT_PATH),
                  "teacher_sha256": sha(teacher)}
        if config.encoder_init:
            inputs["encoder_init"] = config.encoder_init
        data = (
            f"UTKFace {config.train_split} split, aligned N={config.size}, deocclude.synth occluders (train split); "
            "targets: the teacher's x* of the clean faces; research-only data"
        )
        return {"data": data, "inputs": inputs}

"""S as a task of the shared training loop (``deocclude train segment``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from kornia.morphology import opening
from torch.utils.data import Dataset

from deocclude.errors import DeoccludeError
from deocclude.paths import utkface_root
from deocclude.segment.classes import CLASSES, FACE, class_probabilities, face_probability
from deocclude.segment.config import SegmentTrainConfig
from deocclude.segment.data import SegmentTrainSet, SegmentValSet, face_names, load_faces
from deocclude.segment.inference import S_FILE
from deocclude.segment.losses import SegmentLoss
from deocclude.segment.metrics import mask_counts, precision_iou_recall
from deocclude.segment.model import UNet
from deocclude.train.grid import overlay, tile, to_rgb_uint8
from deocclude.train.task import Batch, Models, Stage, Task


class SegmentTask(Task):
    """Model: one U-Net (``net``). Loss: Dice + OHEM on the [face, hair, other] classes after
    occlusion (the parser; ``model.out_channels = 1`` trains the old binary visible-face S).

    With the parser, validation adds the IoU of each argmax class (clean and occluded).

    Validation reports, at threshold 0.5 and over the valid (real-photo) pixels of all val
    faces: precision / IoU / recall of M_F on clean faces and on the same faces with one
    held-out occluder; IoU of the implied occlusion mask M_O = M_R ⊙ (1 − M_F) against
    M_R ⊙ (1 − M_F'); recall of the synthetic occluder on the face (A ⊙ M_R); and the
    trivial "everything on the mesh is visible face" baseline.
    """

    name = "segment"

    def __init__(self, config: SegmentTrainConfig) -> None:
        self.config = config
        self.loss = SegmentLoss(config.loss)
        root = utkface_root()
        if not (root / "landmarks.npz").is_file():
            raise DeoccludeError(f"UTKFace training data not found under {root} (set DEOCCLUDE_DATA)")
        self.root = root

    def _hard_examples(self) -> list[str]:
        c = self.config
        if not c.hard_examples:
            return []
        scores: dict[str, float] = json.loads(Path(c.hard_examples).read_text())["disagreement"]
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        return ranked[: int(round(c.hard_fraction * len(ranked)))]

    @property
    def parser(self) -> bool:
        """True when S is trained as the [face, hair, other] parser, False for the old binary S."""
        return self.config.model.out_channels > 1

    def build_models(self) -> dict[str, torch.nn.Module]:
        return {"net": UNet(self.config.model)}

    def load_initial_weights(self, models: Models, path: Path) -> None:
        """``--init-from`` a weights file (e.g. the bundled S): encoder and decoder copied.

        A binary S's head initialises the parser's face logit, hair starts far below it and
        other at 0, so the parser starts as the old S (P(face) = sigmoid(old logit)) and only
        has to learn hair apart from other.
        """
        source, _ = S_FILE.load(path)
        net = models["net"]
        body = {k: v for k, v in source.state_dict().items() if not k.startswith("head.")}
        net.load_state_dict(body, strict=False)
        # both heads are UNet's nn.Conv2d(..., bias=True); the casts only tell the type checker so
        head = cast(torch.nn.Conv2d, net.head)
        head_bias = cast(torch.Tensor, head.bias)
        old_w, old_b = source.head.weight.data, cast(torch.Tensor, source.head.bias).data
        with torch.no_grad():
            if old_w.shape == head.weight.shape:
                head.weight.copy_(old_w)
                head_bias.copy_(old_b)
            elif old_w.shape[0] == 1:
                head.weight.zero_()
                head_bias.zero_()
                head.weight[FACE].copy_(old_w[0])
                head_bias[FACE] = old_b[0]
                head_bias[CLASSES.index("hair")] = -4.0
            else:
                raise DeoccludeError(
                    f"{path}: head with {old_w.shape[0]} classes cannot initialise one with {head.weight.shape[0]}"
                )

    def stages(self) -> list[Stage]:
        return [Stage("net", self._losses)]

    def _losses(self, models: Models, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        target = batch["classes"] if self.parser else batch["target"]
        return self.loss(models["net"](batch["image"]), target, batch["valid"])

    def train_dataset(self) -> Dataset:
        c = self.config
        faces = load_faces(self.root, c.train_split, c.size, c.min_visible_ratio, c.train_limit)
        repeats: list[int] = []
        hard = self._hard_examples()
        if hard:
            pos = {n: i for i, n in enumerate(face_names(faces))}
            repeats = [pos[n] for n in hard if n in pos] * max(0, c.hard_repeat - 1)
        return SegmentTrainSet(faces, c.clean_fraction, repeats, c.occluder_weights, c.photometric)

    def val_dataset(self) -> Dataset:
        c = self.config
        return SegmentValSet(load_faces(self.root, "val", c.size, None, c.val_limit), c.val_seed)

    def val_step(self, models: Models, batch: Batch) -> dict[str, torch.Tensor]:
        net = models["net"]
        valid = batch["valid"] >= 0.5
        logits_clean = net(batch["clean_image"])
        logits_occ = net(batch["image"])
        p_clean, p_occ = face_probability(logits_clean), face_probability(logits_occ)
        mesh = batch["mesh"]

        def counts(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return mask_counts(prob[valid], target[valid])

        implied = mesh * (p_occ < 0.5).float()
        # The implied mask has a thin false rim where S's outline and the mesh outline
        # differ by a pixel; a 3×3 opening (kornia) removes structures thinner than that.
        opened = opening(implied, torch.ones(3, 3, device=implied.device))
        per_class: dict[str, torch.Tensor] = {}
        if self.parser:  # argmax class against the argmax of the soft targets, per class
            for kind, logits, target in (
                ("clean", logits_clean, batch["clean_classes"]),
                ("occluded", logits_occ, batch["classes"]),
            ):
                pred, true = class_probabilities(logits).argmax(1, keepdim=True), target.argmax(1, keepdim=True)
                for c, name in enumerate(CLASSES):
                    per_class[f"{kind}_class_{name}"] = counts((pred == c).float(), (true == c).float())
        loss_target = batch["classes"] if self.parser else batch["target"]
        return {
            **per_class,
            "clean": counts(p_clean, batch["clean_target"]),
            "occluded": counts(p_occ, batch["target"]),
            "occlusion": counts(implied, mesh * (1.0 - batch["target"])),
            "synthetic": counts(implied, batch["occlusion"]),
            "occlusion_opened": counts(opened, mesh * (1.0 - batch["target"])),
            "baseline_mesh_occluded": counts(mesh, batch["target"]),
            "baseline_mesh_clean": counts(mesh, batch["clean_target"]),
            "loss_occluded": self.loss(logits_occ, loss_target, batch["valid"])["loss"].detach().double() * len(mesh),
            "faces": torch.tensor(float(len(mesh)), dtype=torch.float64),
        }

    def summarize(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind in ("clean", "occluded", "baseline_mesh_clean", "baseline_mesh_occluded"):
            m = precision_iou_recall(sums[kind])
            out.update({f"{kind}_precision": m["precision"], f"{kind}_iou": m["iou"]})
        out["occluded_recall"] = precision_iou_recall(sums["occluded"])["recall"]
        out["occlusion_iou"] = precision_iou_recall(sums["occlusion"])["iou"]
        if "occlusion_opened" in sums:
            out["occlusion_iou_opened3"] = precision_iou_recall(sums["occlusion_opened"])["iou"]
        out["synthetic_occluder_recall"] = precision_iou_recall(sums["synthetic"])["recall"]
        for key in sorted(k for k in sums if "_class_" in k):
            out[f"{key}_iou"] = precision_iou_recall(sums[key])["iou"]
        out["val_loss_occluded"] = float(sums["loss_occluded"] / sums["faces"])
        out["val_faces"] = float(sums["faces"])
        return {k: round(v, 5) for k, v in out.items()}

    @torch.no_grad()
    def grid(self, models: Models, batch: Batch) -> np.ndarray:
        """Rows: faces. Columns: clean | clean prediction | occluded | target | prediction | implied M_O."""
        net = models["net"]
        n = min(8, len(batch["image"]))
        p_clean = face_probability(net(batch["clean_image"][:n]))
        p_occ = face_probability(net(batch["image"][:n]))
        rows = []
        for i in range(n):
            clean, occ = batch["clean_image"][i].float(), batch["image"][i].float()
            implied = batch["mesh"][i] * (p_occ[i] < 0.5)
            rows.append([
                to_rgb_uint8(clean),
                to_rgb_uint8(overlay(clean, p_clean[i] >= 0.5)),
                to_rgb_uint8(occ),
                to_rgb_uint8(overlay(occ, batch["target"][i] >= 0.5)),
                to_rgb_uint8(overlay(occ, p_occ[i] >= 0.5)),
                to_rgb_uint8(overlay(occ, implied, colour=(1.0, 0.0, 0.0))),
            ])
        return tile(rows)

    def export(self, models: Models) -> dict[str, torch.Tensor]:
        return dict(models["net"].state_dict())

    def export_metadata(self) -> dict[str, str]:
        return S_FILE.metadata(self.config.model, self.config.size)

    @classmethod
    def provenance(cls, config: SegmentTrainConfig) -> dict[str, Any]:
        """S's labels are pseudo-labels of UTKFace faces: the data line says which ones."""
        data = (f"UTKFace {config.train_split} split (visible_ratio >= {config.min_visible_ratio}), "
                f"aligned N={config.size}, deocclude.synth occluders (train split); research-only data")
        return {"data": data, "inputs": {"hard_examples": config.hard_examples} if config.hard_examples else {}}

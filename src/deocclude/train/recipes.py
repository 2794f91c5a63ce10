"""The training recipes ``deocclude train <name>`` knows.

A recipe names its config dataclass (importable without torch, so ``--help`` is fast) and
its task factory (imported only when training starts). R and G add one entry each.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deocclude.train.config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    help: str
    config: str  # "module:ConfigClass" (a TrainConfig subclass)
    task: str  # "module:TaskClass" (called with the config)
    network_file: str  # "module:NAME" of the NetworkFile its export is (the bundler finds a run's recipe by its format)
    description: str = ""

    def config_class(self) -> type[TrainConfig]:
        """The recipe's config dataclass (torch-free: the CLI builds its flags from it)."""
        return _load(self.config)

    def task_class(self) -> Any:
        """The Task class: the bundler asks it for provenance without building a task (which loads data)."""
        return _load(self.task)

    def make_task(self, config: Any) -> Any:
        return self.task_class()(config)

    def network(self) -> Any:
        """The recipe's :class:`~deocclude.model_file.NetworkFile` (imports torch)."""
        return _load(self.network_file)


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


RECIPES: dict[str, Recipe] = {
    "segment": Recipe(
        help="S: visible-face segmentation (U-Net, Dice + OHEM-BCE) on UTKFace + synthetic occluders",
        config="deocclude.segment.config:SegmentTrainConfig",
        task="deocclude.segment.task:SegmentTask",
        network_file="deocclude.segment.inference:S_FILE",
        description="Train S (docs/method.md §3) on aligned UTKFace train faces with synthetic occluders; "
        "validates on val faces, clean and with held-out occluders.",
    ),
    "inpaint": Recipe(
        help="G: guided inpainting (gated encoder-decoder + self-attention, GAN) on UTKFace + synthetic occluders",
        config="deocclude.inpaint.config:InpaintTrainConfig",
        task="deocclude.inpaint.task:InpaintTask",
        network_file="deocclude.inpaint.api:G_FILE",
        description="Train G (docs/method.md §5) on aligned UTKFace train faces with synthetic occluders of every "
        "category; I_R from --prior (a folder of cached renders) or zeros; ablations --no-prior and --no-ssim-loss.",
    ),
    "reconstruct": Recipe(
        help="R: occlusion-robust 3D face reconstruction (x = pose, shape, albedo, SH light) on UTKFace "
        "+ synthetic occluders",
        config="deocclude.reconstruct.regressor_config:ReconstructTrainConfig",
        task="deocclude.reconstruct.task:ReconstructTask",
        network_file="deocclude.reconstruct.inference:R_FILE",
        description="Train R (docs/method.md §4) on occluded UTKFace train faces against the teacher's x* of the "
        "clean faces (run `deocclude fit` first); validates on val faces with held-out occluders.",
    ),
}

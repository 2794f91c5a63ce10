"""What a module (S, R, G) brings to the shared training loop.

A :class:`Task` owns its models, datasets, losses and metrics; the loop owns everything
else (devices, DDP, AMP, schedule, checkpoints, logs, grids). One training step runs the
task's :class:`Stage` s in order, each with its own optimizer, so a GAN (G) declares a
discriminator stage and a generator stage, while S and R have a single stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from deocclude.train.config import TrainConfig

Batch = Any
Models = Mapping[str, nn.Module]


@dataclass(frozen=True)
class Stage:
    """One optimizer update: ``compute(models, batch, step)`` returns losses, ``"loss"`` is minimised."""

    optimizer: str
    compute: Callable[[Models, Batch, int], dict[str, torch.Tensor]]


class Task:
    """Base class; override what your module needs.

    Train datasets receive ``(index, seed)`` keys from the loop's sampler (see
    :class:`~deocclude.train.sampling.SeededSampler`) so that random augmentation is a
    pure function of the run seed, the epoch and the index: the same run resumes to the
    same samples. Validation datasets receive plain indices and must be deterministic.
    """

    name: str = "task"

    def build_models(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def build_optimizers(self, models: Models, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """Default: one Adam per model, named like the model."""
        return {
            name: torch.optim.Adam(m.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
            for name, m in models.items()
        }

    def load_initial_weights(self, models: Models, path: Path) -> None:
        """``--init-from`` a weights file rather than a run folder: by default the task's own
        export (:meth:`load_exported`); a task whose shipped file has another layout overrides this."""
        from deocclude.model_file import read_tensors

        device = next(iter(models.values())).parameters().__next__().device
        _, tensors = read_tensors(path, self.name)
        self.load_exported(models, {k: v.to(device) for k, v in tensors.items()})

    def stages(self) -> list[Stage]:
        raise NotImplementedError

    def train_dataset(self) -> Dataset:
        raise NotImplementedError

    def val_dataset(self) -> Dataset:
        raise NotImplementedError

    def collate(self, samples: list[Any]) -> Batch:
        return torch.utils.data.default_collate(samples)

    def val_step(self, models: Models, batch: Batch) -> dict[str, torch.Tensor]:
        """Additive statistics of one validation batch (sums/counts), summed over batches and ranks."""
        raise NotImplementedError

    def summarize(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics from the summed statistics."""
        raise NotImplementedError

    def grid(self, models: Models, batch: Batch) -> np.ndarray:
        """An RGB uint8 picture of predictions on (part of) a validation batch."""
        raise NotImplementedError

    def export(self, models: Models) -> dict[str, torch.Tensor]:
        """The tensors to ship (e.g. one model's state dict); default: everything."""
        return {f"{n}.{k}": v for n, m in models.items() for k, v in m.state_dict().items()}

    def load_exported(self, models: Models, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`export`, for ``--init-from`` a weights file (fp16 files are cast to fp32).

        Keys ``<model>.<param>`` (the default export), or bare keys when there is one model
        (the one-network tasks export its state dict as is)."""
        if len(models) == 1 and not any(k.startswith(f"{next(iter(models))}.") for k in tensors):
            tensors = {f"{next(iter(models))}.{k}": v for k, v in tensors.items()}
        for name, m in models.items():
            prefix = f"{name}."
            m.load_state_dict(
                {
                    k[len(prefix) :]: v.float() if v.is_floating_point() else v
                    for k, v in tensors.items()
                    if k.startswith(prefix)
                }
            )

    def export_metadata(self) -> dict[str, str]:
        """String metadata stored with the exported weights (e.g. the model config)."""
        return {}

    @classmethod
    def provenance(cls, config: Any) -> dict[str, Any]:
        """``data`` and ``inputs`` for the bundled file's :class:`~deocclude.model_file.Provenance`.

        A classmethod of the run's config, because the bundler (:mod:`deocclude.train.bundle`)
        must not build the task: R's loads its teacher cache, G's renders a prior.
        """
        return {}

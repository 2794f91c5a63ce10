"""The one training loop that S, R and G share.

Give it a :class:`~deocclude.train.task.Task` and a :class:`~deocclude.train.config.TrainConfig`
(or a subclass). It handles: device choice, DDP under ``torchrun`` (DistributedSampler,
rank-0 logging, rank-0 decisions broadcast so every rank validates/stops together), AMP on
CUDA, deterministic seeds, a wall-clock budget counted across resumes, a step learning-rate
drop, on CPU the fastest measured layout / dtype (``--fast-cpu``: bf16 + channels_last where
native and faster, else fp32 channels_last), checkpoints every few minutes + ``--resume``, a
JSONL log, a PNG grid of predictions at every validation and the final exported weights.

Run folder layout (``config.out``)::

    config.json  log.jsonl  checkpoint/  grids/val_<step>.png  final/weights.safetensors
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from deocclude import precision
from deocclude.imageio import write_image
from deocclude.model_file import write_tensors
from deocclude.paths import checkout_commit
from deocclude.train import distributed as distmod
from deocclude.train.checkpoint import find_checkpoint, load_checkpoint, load_model_tensors, save_checkpoint, unwrap
from deocclude.train.config import TrainConfig, save_config
from deocclude.train.sampling import SeededSampler
from deocclude.train.task import Task


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    position: int = 0  # samples of this rank's share already used in the current epoch
    images: int = 0  # training images seen, all ranks
    minutes: float = 0.0  # wall-clock minutes spent in earlier sessions of this run
    last_val: dict[str, float] = field(default_factory=dict)


def _headline(losses: dict[str, float]) -> float:
    """The loss the progress bar shows: ``loss``, or the first stage's ``<stage>.loss`` (G's generator)."""
    return next((v for k, v in losses.items() if k == "loss" or k.endswith(".loss")), float("nan"))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def to_channels_last(batch: Any) -> Any:
    """Every 4-D float tensor of a batch in channels_last (oneDNN's fast bf16 layout); the rest as given."""
    if isinstance(batch, torch.Tensor):
        return precision.as_channels_last(batch, batch.is_floating_point())
    if isinstance(batch, dict):
        return {k: to_channels_last(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_channels_last(v) for v in batch)
    return batch


@contextlib.contextmanager
def _graceful_stop(trainer: Trainer):  # noqa: ANN202 - a context manager
    """Ctrl-C / SIGTERM end the run like its budget does: the step finishes, then the final
    validation, checkpoint and export run (a second Ctrl-C aborts at once)."""
    import signal
    import threading

    trainer._interrupted = False
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        if trainer._interrupted:
            raise KeyboardInterrupt
        trainer._interrupted = True
        trainer.console.print("[yellow]stopping after this step: final validation and export follow "
                              "(again to abort)[/yellow]")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker_init(worker_id: int) -> None:
    """Data workers get one thread each: the 2 cores here belong to the training step; Ctrl-C
    is the main process's to handle (it finishes the run, see :func:`_graceful_stop`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


class JsonlLog:
    """Append-only JSON lines; only rank 0 writes."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")


def _autocast(
    device: torch.device, enabled: bool, cpu_bf16: bool = False
) -> tuple[contextlib.AbstractContextManager, torch.amp.GradScaler]:
    """CUDA: bf16 autocast when the GPU supports it (no scaler needed), else fp16 + GradScaler.
    CPU: bf16 autocast when ``cpu_bf16`` (bf16 keeps fp32's exponent range, so no scaler), else fp32."""
    if device.type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16), torch.amp.GradScaler("cuda", enabled=False)
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext(), torch.amp.GradScaler("cuda", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype), torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)


class Trainer:
    """Runs one recipe; see the module docstring."""

    _interrupted: bool  # set by _graceful_stop: Ctrl-C / SIGTERM asked the run to end after this step

    def __init__(self, task: Task, config: TrainConfig) -> None:
        self.task, self.config = task, config
        self.dist = distmod.setup(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.run = Path(config.out)
        self.is_main = self.dist.is_main
        if self.is_main:
            (self.run / "grids").mkdir(parents=True, exist_ok=True)
            save_config(config, self.run / "config.json")
        self.log = JsonlLog(self.run / "log.jsonl", self.is_main)
        self.console = Console(stderr=True, quiet=not self.is_main)

        seed_everything(config.seed)  # identical initial weights on every rank
        # decided before the optimizers exist, so Adam's moments are made in the parameters' layout
        self.mode = precision.mode_for(self.dist.device, True) if config.fast_cpu else precision.FP32
        if config.fast_cpu and self.dist.device.type == "cpu":
            self.console.print(f"--fast-cpu: {self.mode} (probe: {precision.probe()})")
        self.models = {
            k: precision.channels_last(m.to(self.dist.device), self.mode.channels_last)
            for k, m in task.build_models().items()
        }
        self.optimizers = task.build_optimizers(self.models, config)
        for opt in self.optimizers.values():  # each group's own lr (G's and D's differ) is what the schedule scales
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])
        self.autocast, self.scaler = _autocast(self.dist.device, config.amp, self.mode.bf16)
        self.state = LoopState()
        ckpt = find_checkpoint(self.run) if config.resume else None
        if ckpt is not None:
            loop = load_checkpoint(ckpt, self.models, self._stateful(), self.dist.device)
            self.state = LoopState(**loop)
            self.console.print(f"resumed from {ckpt} at step {self.state.step} ({self.state.minutes:.1f} min trained)")
        elif config.resume:
            self.console.print(f"no checkpoint in {self.run}: starting fresh")
        if ckpt is None and config.init_from:
            source = Path(config.init_from)
            if not source.is_file():
                source = find_checkpoint(source) or source
            if source.is_file():  # an exported weights file (e.g. the bundled one): the task knows its layout
                task.load_initial_weights(self.models, source)
            else:
                load_model_tensors(
                    self.models, load_file(str(source / "models.safetensors"), device=str(self.dist.device))
                )
            self.console.print(f"initial weights from {source}")
        if self.dist.distributed:
            self.models = {
                k: DistributedDataParallel(
                    m, device_ids=[self.dist.device.index] if self.dist.device.type == "cuda" else None
                )
                if any(p.requires_grad for p in m.parameters())
                else m
                for k, m in self.models.items()
            }
        self.stages = task.stages()

    def _stateful(self) -> dict[str, Any]:
        return {**{f"optimizer.{k}": o for k, o in self.optimizers.items()}, "scaler": self.scaler}

    # -- data -------------------------------------------------------------------------
    def _loaders(self) -> tuple[DataLoader, SeededSampler, DataLoader]:
        c, d = self.config, self.dist
        train_set = self.task.train_dataset()
        sampler = SeededSampler(train_set, d.world_size, d.rank, c.seed)
        common: dict[str, Any] = dict(num_workers=c.num_workers, collate_fn=self.task.collate,
                                      pin_memory=d.device.type == "cuda")
        if c.num_workers > 0:  # spawned: a forked worker deadlocks in OpenMP (and must not inherit CUDA)
            common.update(persistent_workers=True, worker_init_fn=_worker_init, multiprocessing_context="spawn")
        train = DataLoader(train_set, batch_size=c.batch_size, sampler=sampler, drop_last=True, **common)
        val_set = self.task.val_dataset()
        val_sampler: DistributedSampler[Any] = DistributedSampler(val_set, d.world_size, d.rank, shuffle=False,
                                                                  drop_last=False)
        val = DataLoader(val_set, batch_size=c.batch_size, sampler=val_sampler, **common)
        return train, sampler, val

    # -- schedule -----------------------------------------------------------------------
    def _minutes(self) -> float:
        return self.state.minutes + (time.monotonic() - self._t0) / 60.0

    def _progress(self, epochs_per_step: float) -> float:
        c, s = self.config, self.state
        parts = [self._minutes() / c.max_minutes if c.max_minutes > 0 else 0.0]
        if c.max_steps > 0:
            parts.append(s.step / c.max_steps)
        if c.max_epochs > 0:
            parts.append(s.step * epochs_per_step / c.max_epochs)
        return max(parts)

    def _set_lr(self, progress: float) -> float:
        """Scale every param group's own base lr by the step schedule; returns config.lr's scaled value
        (the number logged). It used to write config.lr into every group, so D ran at G's lr."""
        c = self.config
        factor = c.lr_drop_factor if progress >= c.lr_drop_at else 1.0
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group.get("base_lr", c.lr) * factor
        return c.lr * factor

    # -- actions ------------------------------------------------------------------------
    def _train_step(self, batch: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        for stage in self.stages:
            opt = self.optimizers[stage.optimizer]
            opt.zero_grad(set_to_none=True)
            with self.autocast:
                losses = stage.compute(self.models, batch, self.state.step)
            loss = losses["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at step {self.state.step}: {losses}")
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
            prefix = "" if len(self.stages) == 1 else f"{stage.optimizer}."
            out.update({prefix + k: float(v.detach()) for k, v in losses.items()})
        return out

    @torch.no_grad()
    def validate(self, val_loader: DataLoader) -> dict[str, float]:
        for m in self.models.values():
            m.eval()
        sums: dict[str, torch.Tensor] = {}
        first = None
        for batch in val_loader:
            batch = to_device(batch, self.dist.device)
            batch = to_channels_last(batch) if self.mode.channels_last else batch
            first = batch if first is None else first
            with self.autocast:
                stats = self.task.val_step(self.models, batch)
            for k, v in stats.items():
                sums[k] = sums.get(k, 0) + v.detach().double()
        for k in sorted(sums):
            sums[k] = distmod.all_reduce_sum(sums[k].to(self.dist.device), self.dist)
        metrics = self.task.summarize(sums)
        if self.is_main and first is not None:
            bare = {k: unwrap(m) for k, m in self.models.items()}
            with self.autocast:
                picture = self.task.grid(bare, first)
            write_image(self.run / "grids" / f"val_{self.state.step:07d}.png", picture)
        for m in self.models.values():
            m.train()
        return metrics

    def checkpoint(self) -> None:
        if self.is_main:
            loop = dict(vars(self.state))
            loop["minutes"] = self._minutes()
            save_checkpoint(self.run / "checkpoint", self.models, self._stateful(), loop)

    def export(self) -> Path:
        path = self.run / "final" / "weights.safetensors"
        if self.is_main:
            path.parent.mkdir(parents=True, exist_ok=True)
            tensors = self.task.export({k: unwrap(m) for k, m in self.models.items()})
            write_tensors(tensors, path, self.task.export_metadata(), half=False)
        return path

    # -- the loop -----------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        with _graceful_stop(self):
            return self._fit()

    def _fit(self) -> dict[str, Any]:
        """The loop: step, then log / validate / checkpoint when due (every rank decides alike), until done."""
        c, s = self.config, self.state
        train_loader, sampler, val_loader = self._loaders()
        samples = len(cast(Sized, sampler.dataset))
        per_epoch = max(1, samples // (c.batch_size * self.dist.world_size))
        self._t0 = time.monotonic()
        last_ckpt = last_val = time.monotonic()
        window_t, window_n = time.monotonic(), 0
        for m in self.models.values():
            m.train()
        self.log.write({"event": "start", "step": s.step, "minutes": s.minutes, "world_size": self.dist.world_size,
                        "device": str(self.dist.device), "cpu_mode": str(self.mode),
                        "commit": checkout_commit()})  # the bundler's trained_with_commit (one per --resume)
        stop = False
        with self._progress_bar() as progress:
            bar = progress.add_task(f"train {self.task.name}", total=100.0, info="")
            while not stop:
                sampler.set_epoch(s.epoch)
                sampler.start = s.position
                for batch in train_loader:
                    lr, losses = self._step(batch, per_epoch)
                    n = c.batch_size * self.dist.world_size
                    window_n += n
                    now = time.monotonic()
                    frac = self._progress(1.0 / per_epoch)
                    stop, do_val, do_ckpt = self._due(frac, now, last_val, last_ckpt)
                    if s.step % c.log_every_steps == 0 or stop:
                        rate = window_n / max(now - window_t, 1e-9)
                        window_t, window_n = now, 0
                        self._log_train(lr, losses, rate, samples)
                    progress.update(bar, completed=min(100.0, 100.0 * frac),
                                    info=f"step {s.step} loss {_headline(losses):.4f}")
                    if do_val and not stop:
                        self._validate_and_log(val_loader)
                        last_val = time.monotonic()
                    if do_ckpt and not stop:
                        self.checkpoint()
                        last_ckpt = time.monotonic()
                    if stop:
                        break
                else:
                    s.epoch += 1
                    s.position = 0
        return self._finish(val_loader, per_epoch)

    def _progress_bar(self) -> Progress:
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                        TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=self.console,
                        disable=not self.is_main)

    def _step(self, batch: Any, per_epoch: int) -> tuple[float, dict[str, float]]:
        """One optimisation step on ``batch``; advances the state. Returns (lr, losses)."""
        c, s = self.config, self.state
        batch = to_device(batch, self.dist.device)
        batch = to_channels_last(batch) if self.mode.channels_last else batch
        lr = self._set_lr(self._progress(1.0 / per_epoch))
        losses = self._train_step(batch)
        s.step += 1
        s.position += c.batch_size
        s.images += c.batch_size * self.dist.world_size
        return lr, losses

    def _due(self, frac: float, now: float, last_val: float, last_ckpt: float) -> list[bool]:
        """[stop, validate, checkpoint], decided on rank 0 and broadcast so every rank agrees."""
        c, s = self.config, self.state
        return distmod.broadcast_flags([
            frac >= 1.0 or self._interrupted,
            (c.val_every_steps > 0 and s.step % c.val_every_steps == 0)
            or (c.val_every_minutes > 0 and now - last_val >= 60 * c.val_every_minutes),
            now - last_ckpt >= 60 * c.checkpoint_every_minutes,
        ], self.dist)

    def _log_train(self, lr: float, losses: dict[str, float], rate: float, samples: int) -> None:
        s = self.state
        self.log.write({"event": "train", "step": s.step,
                        "epoch": s.epoch + s.position / max(1, samples // self.dist.world_size),
                        "minutes": round(self._minutes(), 3), "lr": lr, "images": s.images,
                        "images_per_s": round(rate, 2), **{k: round(v, 5) for k, v in losses.items()}})

    def _validate_and_log(self, val_loader: Any, final: bool = False) -> None:
        s = self.state
        s.last_val = self.validate(val_loader)
        self.log.write({"event": "val", "step": s.step, "minutes": round(self._minutes(), 3),
                        **({"final": True} if final else {}), **s.last_val})

    def _finish(self, val_loader: Any, per_epoch: int) -> dict[str, Any]:
        """Final validation, checkpoint and export; the run's summary (also its log's last record)."""
        c, s = self.config, self.state
        self._validate_and_log(val_loader, final=True)
        self.checkpoint()
        path = self.export()
        summary = {"event": "end", "step": s.step, "epochs": s.epoch + s.position / max(1, per_epoch * c.batch_size),
                   "images": s.images, "minutes": round(self._minutes(), 3), "weights": str(path), **s.last_val}
        self.log.write(summary)
        return summary


def train(task: Task, config: TrainConfig) -> dict[str, Any]:
    """Train ``task`` with ``config``; returns the final summary (also the last line of log.jsonl)."""
    trainer = Trainer(task, config)
    try:
        return trainer.fit()
    finally:
        distmod.teardown()


__all__ = ["LoopState", "Trainer", "train", "to_device", "seed_everything"]

"""A DataLoader set up for this machine: worker processes that keep the cores busy.

Workers are *spawned*, not forked: a forked worker inherits OpenCV's and OpenMP's thread
pools in whatever state the parent left them, and its first parallel call can then wait
forever (seen here: 1 in ~4 loaders hung once the parent had run the synthesizer).
Spawned workers start clean; datasets pickle light (cache paths, uint8 occluders), and
``persistent_workers`` pays the start-up once. Each worker uses one OpenCV/torch thread
(2 workers x N threads would fight over 2 cores). Shuffling is seeded for reproducibility.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, Dataset


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def default_workers() -> int:
    """Two workers by default (this machine's 2 cores), fewer if the machine has fewer."""
    return max(0, min(2, (os.cpu_count() or 1)))


def make_loader(dataset: Dataset, batch_size: int = 32, shuffle: bool = True, num_workers: int | None = None,
                seed: int = 0, drop_last: bool = False, pin_memory: bool = False) -> DataLoader:
    """A DataLoader with seeded shuffling, persistent single-threaded workers and prefetch."""
    workers = default_workers() if num_workers is None else num_workers
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, generator=gen,
                      worker_init_fn=_worker_init if workers > 0 else None, persistent_workers=workers > 0,
                      prefetch_factor=4 if workers > 0 else None, drop_last=drop_last, pin_memory=pin_memory,
                      multiprocessing_context="spawn" if workers > 0 else None)

"""A DataLoader set up for this machine: worker processes that keep the cores busy.

Workers are limited to one OpenCV/torch thread each (otherwise 2 workers x N threads
fight over 2 cores), and the shuffling generator is seeded so a run is reproducible.
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
                      prefetch_factor=4 if workers > 0 else None, drop_last=drop_last, pin_memory=pin_memory)

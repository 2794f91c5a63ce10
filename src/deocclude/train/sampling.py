"""A resumable, seeded DistributedSampler."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Dataset, DistributedSampler


class SeededSampler(DistributedSampler):
    """DistributedSampler that yields ``(index, sample_seed)`` and can start mid-epoch.

    ``sample_seed`` is derived from (seed, epoch, position in the epoch), so augmentation
    no longer depends on which worker process draws the sample. ``start`` skips the first
    positions of this rank's share (set from the checkpoint on ``--resume``).
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int, drop_last: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=drop_last)
        self.start = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(super().__iter__())
        seeds = np.random.default_rng([self.seed, self.epoch, self.rank]).integers(0, 2**31 - 1, size=len(indices))
        for pos in range(self.start, len(indices)):
            yield indices[pos], int(seeds[pos])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)

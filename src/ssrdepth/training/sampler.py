"""Data order: the epoch-indexed, resumable training sampler and the validation shards."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from torch.utils.data import Dataset, DistributedSampler, Sampler


class StepSampler(DistributedSampler):
    """torch's :class:`DistributedSampler` (a permutation seeded by ``seed + epoch``, dropping the tail
    that does not divide evenly) that can start in the middle of an epoch.

    With N processes and a per-process batch b, step k of process r takes positions
    ``r, r + N, …`` of the permutation's slice ``[k·N·b, (k+1)·N·b)``: together the processes take
    exactly the global batch that a single process (N = 1, batch N·b) takes at step k.
    """

    def __init__(self, dataset: Dataset[Any], num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Start epoch ``epoch`` at this process's ``start``-th sample."""
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return self.num_samples - self.start

    def samples_per_epoch(self) -> int:
        return int(self.num_samples)


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + N, …`` in order: each process validates its own share."""

    def __init__(self, n: int, num_replicas: int, rank: int) -> None:
        self.indices = list(range(rank, n, num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

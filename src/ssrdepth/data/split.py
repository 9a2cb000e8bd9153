"""The deterministic by-sequence train/test split.

The paper's KITTI split (12,482 train / 2,518 test of 15,000 tracking pairs) is not published, so it
cannot be re-derived. Ours keeps whole groups (tracking sequences, raw drives, synthetic streets,
sub-folders) on one side, so near-duplicate neighbouring frames never straddle the split:

1. the distinct groups are sorted by name and shuffled with ``numpy.random.default_rng(seed)``;
2. the first k groups of that order form the training set, with k (1 ≤ k < number of groups) chosen
   so that their frame count is closest to ``ratio × frames``;
3. with a single group, the first ``round(ratio × frames)`` frames (in name order) train and the
   rest test — a contiguous cut, so only the frames at the boundary are neighbours.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

SPLITS = ("train", "test", "all")


def split_indices(groups: list[str], split: str, ratio: float, seed: int = 0) -> list[int]:
    """Indices (ascending) of the frames in ``split`` ("train", "test" or "all"); ``groups[i]`` is
    frame i's group."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    n = len(groups)
    if split == "all" or n == 0:
        return list(range(n))
    names = sorted(set(groups))
    if len(names) == 1:
        cut = min(max(round(ratio * n), 1), n - 1) if n > 1 else 1  # a lone frame trains
        return list(range(cut)) if split == "train" else list(range(cut, n))
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    counts = Counter(groups)
    cumulative = np.cumsum([counts[g] for g in order])
    k = int(np.argmin(np.abs(cumulative[:-1] - ratio * n))) + 1
    train_groups = set(order[:k])
    want = split == "train"
    return [i for i, g in enumerate(groups) if (g in train_groups) == want]

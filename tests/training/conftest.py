"""A small in-memory data set with the data contract's keys, and a tiny training config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ssrdepth.data.config import TargetScale
from ssrdepth.training.config import TrainConfig, apply_overrides, get_preset


class ToyDepth(Dataset):  # type: ignore[type-arg]
    """``n`` random gray images (1, H, W) whose target is a learnable function of the image: a vertical
    ramp plus a local mean of the image, in [0, 1]. Setting ``poisoned`` makes every target NaN from
    then on (to provoke a NaN loss at a known step; in-process loading, workers = 0)."""

    scale = TargetScale("disparity", 96.0, focal=720.0, baseline=0.54, reference_width=48)

    def __init__(self, n: int, size: tuple[int, int] = (16, 48), seed: int = 0) -> None:
        h, w = size
        g = torch.Generator().manual_seed(seed)
        self.image = torch.rand(n, 1, h, w, generator=g)
        ramp = torch.linspace(0, 1, h).view(1, 1, h, 1).expand(n, 1, h, w)
        self.target = (0.3 * ramp + 0.5 * F.avg_pool2d(self.image, 5, 1, 2)).clamp(0, 1)
        self.valid = torch.ones_like(self.target, dtype=torch.bool)
        self.valid[:, :, :2] = False  # a few invalid pixels, as stereo targets have
        self.poisoned = False

    def __len__(self) -> int:
        return len(self.image)

    def __getitem__(self, i: int) -> dict[str, object]:
        target = self.target[i]
        if self.poisoned:
            target = torch.full_like(target, float("nan"))
        return {
            "image": self.image[i],
            "target": target,
            "valid_mask": self.valid[i],
            "depth": torch.zeros_like(target),
            "index": i,
        }


@pytest.fixture
def toy_cfg(tmp_path: Path) -> TrainConfig:
    """SCRX-free, batch-norm-free tiny setup: C at width 0.25, 16×48 gray, batch 8, 8 steps, no TB."""
    return apply_overrides(
        get_preset("synthetic-tiny"),
        [
            f"out={tmp_path / 'run'}",
            "model.name=C",
            "loss=mse",
            "length=8",
            "batch_size=8",
            "eval_every=4",
            "log_every=1",
            "val_max_batches=0",
            "tensorboard=false",
            "progress=false",
            "optim.lr=1.0",
            "threads=1",
            "precision=fp32",  # tests compare stored metrics with fp32 recomputes
        ],
    )


class ToyStereo(ToyDepth):
    """:class:`ToyDepth` with a right view: the left image moved 2 px to the left (a fronto-parallel
    plane at 2 px of disparity, border columns replicated), for the photometric losses."""

    def __init__(self, n: int, size: tuple[int, int] = (16, 48), seed: int = 0) -> None:
        super().__init__(n, size, seed)
        self.right = torch.cat((self.image[..., 2:], self.image[..., -1:].expand(-1, -1, -1, 2)), dim=-1)

    def __getitem__(self, i: int) -> dict[str, object]:
        return {**super().__getitem__(i), "right": self.right[i]}

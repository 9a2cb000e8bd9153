"""Processes: torchrun/DDP set-up, barriers, the process settings of a run (threads, determinism,
seeds). The device itself is chosen by :func:`ssrdepth.runtime.resolve_device`."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist

from ssrdepth.core.hardware import usable_cores

if TYPE_CHECKING:
    from ssrdepth.training.config import TrainConfig


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    owns = False
    if not dist.is_initialized():
        backend = (
            "nccl"
            if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
            else "gloo"
        )
        dist.init_process_group(backend=backend)
        owns = True
    return DistInfo(rank, dist.get_world_size(), local_rank, local_world, owns)


def barrier(device: torch.device) -> None:
    # NCCL needs to know the device before set_device has been called.
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[device.index or 0])
    else:
        dist.barrier()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_up_process(cfg: TrainConfig, ddp: DistInfo, device: torch.device) -> None:
    """Threads (``cfg.threads``, else the cores shared among the local CPU processes), cuDNN determinism
    and TF32 (``cfg.deterministic``), and the seeds of every generator (``cfg.seed``)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    elif ddp.local_world > 1 and device.type == "cpu":
        torch.set_num_threads(max(1, usable_cores() // ddp.local_world))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not cfg.deterministic
        torch.backends.cudnn.deterministic = cfg.deterministic
        torch.backends.cuda.matmul.allow_tf32 = not cfg.deterministic
        torch.backends.cudnn.allow_tf32 = not cfg.deterministic
    seed_everything(cfg.seed)

"""Processes and devices: torchrun/DDP set-up, device choice, barriers, seeds."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


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


def resolve_device(name: str, ddp: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: CUDA is not available here; valid devices here: cpu")
        index = ddp.local_rank if ddp.world > 1 else (int(name[5:]) if ":" in name else 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
        # No CUDA call yet: data sets may fork worker processes while they are built, which must
        # happen before this process creates a CUDA context.
        return torch.device("cuda", index)
    return torch.device("cpu")


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

"""The cost of one training step as ``train`` runs it (:func:`measure_step_seconds`), for the budget
plans of ``demo``/``reproduce`` and the training rows of ``bench``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ssrdepth.core.timing import interleaved_medians
from ssrdepth.runtime import resolve_device
from ssrdepth.training.config import TrainConfig
from ssrdepth.training.data_setup import build_data
from ssrdepth.training.distributed import DistInfo, set_up_process
from ssrdepth.training.model_setup import build_parts
from ssrdepth.training.session import Session


def measure_step_seconds(
    cfg: TrainConfig,
    repeats: int = 2,
    warmup: int = 1,
    train_set: Dataset[Any] | None = None,
    val_set: Dataset[Any] | None = None,
) -> float:
    """Seconds of one training step of ``cfg`` on this machine, as :func:`train` runs it: a batch from
    the run's own training data (loading and augmentation included), its model, memory format,
    precision, loss, optimiser, scaler, clipping and schedule — the median of ``repeats`` timed steps
    after ``warmup`` untimed ones, single process. Nothing is written (no run folder, logs or
    checkpoints) and the global random state is restored, so a run trained afterwards is unchanged.
    Validation and checkpoints are not in it (about 2 % of a demo run's time). ``train_set`` /
    ``val_set``: as :func:`train`'s (default: built from ``cfg.data``)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be ≥ 1 and warmup ≥ 0, got {repeats} and {warmup}")
    ddp = DistInfo()
    device = resolve_device(cfg.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            set_up_process(cfg, ddp, device)
            data = build_data(cfg, ddp, device, train_set, val_set)
            parts = build_parts(cfg, ddp, device, data)
            loop = Session(cfg, ddp, device, Path(cfg.out), data, parts, time.perf_counter())
            parts.net.train()
            batches = iter(data.loader)

            def step() -> None:
                nonlocal batches
                try:
                    batch = next(batches)
                except StopIteration:  # an epoch shorter than the timing: start it again
                    batches = iter(data.loader)
                    batch = next(batches)
                loop.train_step(batch)

            sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
            seconds = interleaved_medians({"step": step}, repeats, warmup, sync=sync)["step"]
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    return float(seconds)

"""Single-stage training that resumes exactly, logs, and scales out with DDP (``ssrdepth train``).

The API is :func:`train` (``train(cfg) -> TrainResult``); the command (``ssrdepth.cli.train``) resolves a
:class:`~ssrdepth.training.config.TrainConfig` from a preset, a TOML file and ``--set`` overrides and
calls it. This module holds the run as named steps (run folder, process, data, model, session); the
steps live in their own rooms, and every public name stays importable from here:

- :mod:`~ssrdepth.training.data_setup`: data sets, samplers, loaders, the schedule in steps;
- :mod:`~ssrdepth.training.model_setup`: model, optimiser, schedule, precision, loss, ``warm_start``;
- :mod:`~ssrdepth.training.session`: the session state, the optimiser step, the step loop, the result;
- :mod:`~ssrdepth.training.validation`: validation (the metric core of :mod:`ssrdepth.runtime`);
- :mod:`~ssrdepth.training.step`: the cost of one step as ``train`` runs it (``measure_step_seconds``).
 A run folder (``cfg.out``) ends up holding::

    config.json, config.toml    the resolved configuration (``--config config.toml`` re-runs it)
    latest.pt, best.pt          checkpoints (``ssrdepth.checkpoint``), written atomically
    train_log.csv, val_log.csv  every logged step / every validation
    tensorboard/                scalars and a few validation images (input, target, prediction)
    curves.png                  training curves, drawn at the end
    result.json                 the :class:`TrainResult`; its presence marks the run finished

Exact resumption: the data order comes from a seeded, epoch-indexed permutation whose position
depends only on the step (:class:`~ssrdepth.training.sampler.StepSampler`), the learning rate is a pure function of the step,
and the model, optimiser, scheduler, gradient scaler and RNG states travel in ``latest.pt``; each
sample is loaded with the generators seeded from (seed, epoch, position)
(:class:`~ssrdepth.training.sampler.SeededSamples`), so randomness in a data set's ``__getitem__``
does not depend on which DataLoader worker loads it, and the batch augmentation draws from a
generator seeded by the step (:func:`~ssrdepth.training.augment.step_generator`). On a CPU a resumed run reproduces the uninterrupted one bit for bit, with
any number of workers.

Scale-out: ``torchrun --nproc-per-node N -m ssrdepth train ...`` (multi-node the same way, with a
shared run folder). Every process takes ``batch_size / N`` samples of the same global batch that a
single process would take, gradients are averaged by DistributedDataParallel, and rank 0 alone logs
and writes checkpoints. For the per-image-mean losses (``mse``, ``l2_paper``) this equals
single-process training with the same global batch up to float rounding.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch.distributed as dist
from torch.utils.data import Dataset

from ssrdepth.checkpoint import LATEST, resolve_checkpoint
from ssrdepth.core.hardware import resolve_precision
from ssrdepth.losses import MASKED_LOSSES
from ssrdepth.runtime import resolve_device
from ssrdepth.training.config import TrainConfig
from ssrdepth.training.data_setup import (
    MORE_DATA,
    SplitTooSmallError,
    TrainData,
    build_data,
    split_too_small_message,
)
from ssrdepth.training.distributed import DistInfo, init_distributed, set_up_process
from ssrdepth.training.logs import plot_curves
from ssrdepth.training.model_setup import (
    TrainParts,
    build_optimizer,
    build_parts,
    build_scheduler,
    warm_start,
)
from ssrdepth.training.run_folder import RESULT, check_same_run, clear_run
from ssrdepth.training.sampler import StepSampler
from ssrdepth.training.session import DivergedError, Session, TrainResult
from ssrdepth.training.step import measure_step_seconds
from ssrdepth.training.validation import validate

#: :class:`Session` under its private name in this module (``loop._Loop.train_step`` is what tests patch).
_Loop = Session


def train(
    cfg: TrainConfig,
    *,
    train_set: Dataset[Any] | None = None,
    val_set: Dataset[Any] | None = None,
    resume: bool | str | os.PathLike[str] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.data`` (or on the given data sets) in a single stage.

    Args:
        cfg: the resolved configuration.
        train_set, val_set: ready-made data sets yielding the dicts of :mod:`ssrdepth.data.config`
            (``"image"`` (C, H, W), ``"target"`` (1, H, W) in [0, 1], ``"valid_mask"`` (1, H, W)); by
            default both are built from ``cfg.data`` (splits ``"train"`` and ``cfg.val_split``).
            Without a validation set nothing is validated and no ``best.pt`` is written.
        resume: ``None`` (default): reuse a finished run with the same configuration in ``cfg.out``
            (returns it with ``skipped=True``), resume an interrupted one from ``latest.pt``, start
            fresh in an empty folder, and refuse a folder that holds a different configuration.
            ``True``: like None but there must be something to resume. ``False``: start over (the
            run's own files in ``cfg.out`` are removed). A path: resume from that checkpoint.
        on_step: called with the step number after every optimiser step (progress hooks, tests).

    Raises:
        ValueError: bad configuration or data, or a folder holding a different run.
        DivergedError: the loss became NaN/inf; ``latest.pt`` still holds the last good state.
    """
    t_start = time.perf_counter()
    ddp = init_distributed(cfg.device)
    try:
        return _train(cfg, ddp, train_set, val_set, resume, on_step, t_start)
    finally:
        if ddp.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _train(
    cfg: TrainConfig,
    ddp: DistInfo,
    train_set: Dataset[Any] | None,
    val_set: Dataset[Any] | None,
    resume: bool | str | os.PathLike[str] | None,
    on_step: Callable[[int], None] | None,
    t_start: float,
) -> TrainResult:
    """The run as named steps: run folder, process settings, data, model and optimiser, restore,
    logs, the step loop, the result."""
    run_dir = Path(cfg.out)
    device = resolve_device(cfg.device, ddp.local_rank if ddp.world > 1 else None)
    resolve_precision(cfg.precision, device.type)  # refuse fp16 on a CPU before touching the folder
    cfg.check_uncertainty()
    if cfg.batch_size % ddp.world:
        raise ValueError(f"batch_size {cfg.batch_size} does not divide evenly over {ddp.world} processes")
    if cfg.augment.cutout and cfg.loss not in MASKED_LOSSES:
        raise ValueError(
            f"augment.cutout marks the occluded pixels invalid, but loss {cfg.loss!r} ignores the valid "
            f"mask and would teach the network to see through them; use a masked loss "
            f"({', '.join(MASKED_LOSSES)}) or set augment.cutout=0"
        )
    finished, resume_from = _set_up_run_folder(cfg, ddp, run_dir, resume)
    if finished is not None:
        return finished
    set_up_process(cfg, ddp, device)
    data = build_data(cfg, ddp, device, train_set, val_set)
    parts = build_parts(cfg, ddp, device, data)
    loop = Session(cfg, ddp, device, run_dir, data, parts, t_start)
    if resume_from is not None:
        loop.restore(resume_from)
    loop.open_logs()
    loop.run(on_step)
    return loop.finish()


def _set_up_run_folder(
    cfg: TrainConfig, ddp: DistInfo, run_dir: Path, resume: bool | str | os.PathLike[str] | None
) -> tuple[TrainResult | None, Path | None]:
    """What is in the run folder already: ``(the finished run to reuse, None)`` or ``(None, the
    checkpoint to resume from or None)``; clears the folder for ``resume=False``."""
    if resume is not None and not isinstance(resume, bool):
        return None, resolve_checkpoint(resume, "latest")
    if resume is False:
        if ddp.main:
            clear_run(run_dir)
        return None, None
    result_file, latest = run_dir / RESULT, run_dir / LATEST
    if result_file.is_file() and latest.is_file():
        stored = json.loads(result_file.read_text(encoding="utf-8"))
        check_same_run(cfg, stored.get("config", {}), run_dir)
        result = TrainResult.from_dict(stored["result"])
        result.skipped = True
        return result, None
    if latest.is_file():
        return None, latest
    if resume is True:
        raise FileNotFoundError(f"{run_dir}: nothing to resume ({LATEST} not found)")
    return None, None


__all__ = [
    "MORE_DATA",
    "DivergedError",
    "Session",
    "SplitTooSmallError",
    "StepSampler",
    "TrainData",
    "TrainParts",
    "TrainResult",
    "build_data",
    "build_optimizer",
    "build_parts",
    "build_scheduler",
    "measure_step_seconds",
    "plot_curves",
    "split_too_small_message",
    "train",
    "validate",
    "warm_start",
]

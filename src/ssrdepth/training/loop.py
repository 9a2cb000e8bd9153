"""Single-stage training that resumes exactly, logs, and scales out with DDP (``ssrdepth train``).

The API is :func:`train` (``train(cfg) -> TrainResult``); the command (``ssrdepth.cli.train``) resolves a
:class:`~ssrdepth.training.config.TrainConfig` from a preset, a TOML file and ``--set`` overrides and
calls it. A run folder (``cfg.out``) ends up holding::

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

import dataclasses
import itertools
import json
import logging
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ssrdepth.checkpoint import (
    BEST,
    LATEST,
    load_checkpoint,
    resolve_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from ssrdepth.core.hardware import resolve_precision
from ssrdepth.core.io import write_json, write_text
from ssrdepth.losses import MASKED_LOSSES, LossFn, get_loss
from ssrdepth.models import DepthNet, create_model
from ssrdepth.training.augment import augment_batch, step_generator
from ssrdepth.training.config import (
    TrainConfig,
    config_to_dict,
    to_toml,
)
from ssrdepth.training.distributed import DistInfo, barrier, init_distributed, resolve_device, seed_everything
from ssrdepth.training.logs import TRAIN_COLUMNS, VAL_COLUMNS, CsvLog, plot_curves
from ssrdepth.training.run_folder import CURVES, RESULT, TRAIN_LOG, VAL_LOG, check_same_run, clear_run
from ssrdepth.training.sampler import SeededSampler, SeededSamples, ShardSampler, StepSampler

logger = logging.getLogger(__name__)


class DivergedError(FloatingPointError):
    """The training loss became NaN or inf. The run stopped before writing anything from the bad steps."""


#: How ``train`` alone gets more training data (``reproduce``, ``demo`` and ``study`` name their option).
MORE_DATA = "train on a larger data set"


def split_too_small_message(samples: int, batch_size: int, more_data: str = MORE_DATA) -> str:
    """The one message for a training split smaller than the batch, naming both fixes: a smaller batch
    (``--set batch_size=N``) or more data (``more_data``: the command's way, e.g. ``more pairs with
    --pairs``)."""
    return (
        f"the training split has {samples} samples, fewer than the batch size {batch_size}: "
        f"lower the batch with --set batch_size=N (N ≤ {samples}), or {more_data}"
    )


class SplitTooSmallError(ValueError):
    """The training split holds fewer samples than one batch (:func:`split_too_small_message`)."""

    def __init__(self, samples: int, batch_size: int, more_data: str = MORE_DATA) -> None:
        super().__init__(split_too_small_message(samples, batch_size, more_data))
        self.samples = samples
        self.batch_size = batch_size


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes:
        run_dir: the run folder.
        best_checkpoint: ``best.pt`` (by ``cfg.best_metric``), or None when the run had no validation set.
        latest_checkpoint: ``latest.pt`` (the final state).
        history: ``{"train": [row, ...], "val": [row, ...]}`` with the columns of the CSV logs.
        seconds: wall time of the whole run (summed over resumed sessions).
        images_per_second: training throughput (all processes) of the last session, without
            validation and checkpointing.
        steps: optimiser steps done. best: ``{"metric", "value", "step"}`` or None.
        skipped: True when a finished run with the same configuration was found and reused.
        precision: the precision the steps ran in (``precision = "auto"`` resolved on this machine).
    """

    run_dir: Path
    best_checkpoint: Path | None
    latest_checkpoint: Path
    history: dict[str, list[dict[str, float]]]
    seconds: float
    images_per_second: float
    steps: int
    best: dict[str, Any] | None = None
    skipped: bool = False
    precision: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("run_dir", "best_checkpoint", "latest_checkpoint"):
            d[k] = None if d[k] is None else str(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainResult:
        return cls(
            run_dir=Path(d["run_dir"]),
            best_checkpoint=Path(d["best_checkpoint"]) if d.get("best_checkpoint") else None,
            latest_checkpoint=Path(d["latest_checkpoint"]),
            history=d.get("history", {"train": [], "val": []}),
            seconds=float(d["seconds"]),
            images_per_second=float(d["images_per_second"]),
            steps=int(d["steps"]),
            best=d.get("best"),
            skipped=bool(d.get("skipped", False)),
            precision=str(d.get("precision", "")),
        )


# --------------------------------------------------------------------------------------------------
# pieces of the loop


def build_optimizer(cfg: TrainConfig, params: Sequence[nn.Parameter]) -> torch.optim.Optimizer:
    """SGD with momentum (the paper), Adam or AdamW (decoupled weight decay, Loshchilov & Hutter 2019)
    over *all* parameters: one training stage."""
    o, lr = cfg.optim, cfg.effective_lr
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
    return torch.optim.SGD(
        params, lr=lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay
    )


def build_scheduler(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate at step s = ``optim.lr × schedule.factor(s, total_steps)`` (a pure function of s)."""
    schedule = cfg.schedule
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: schedule.factor(s, total_steps))


def _batch_sums(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, loss: torch.Tensor
) -> torch.Tensor:
    """``[loss·n, n, Σ valid sq. err., # valid, Σ per-image RMSE, # images with valid pixels]``."""
    n = pred.shape[0]
    sq = torch.where(valid, (pred - target).pow(2), 0.0).flatten(1)
    count = valid.flatten(1).sum(1)
    has = count > 0
    rmse = torch.sqrt(sq.sum(1)[has] / count[has])
    return torch.stack(
        [
            loss.detach().double() * n,
            torch.tensor(float(n), dtype=torch.float64, device=pred.device),
            sq.sum().double(),
            count.sum().double(),
            rmse.sum().double(),
            has.sum().double(),
        ]
    )


@torch.no_grad()
def validate(
    model: nn.Module,
    loader: DataLoader[Any],
    loss_fn: LossFn,
    device: torch.device,
    *,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    max_batches: int = 0,
    ddp: DistInfo | None = None,
) -> tuple[dict[str, float], tuple[torch.Tensor, ...] | None]:
    """Validation on normalised [0, 1] maps over valid pixels.

    Returns ``({"val_loss", "val_mse", "val_rmse"}, first_batch)``: ``val_loss`` is the training loss
    averaged over images; ``val_mse`` the squared error pooled over all valid pixels; ``val_rmse`` the
    per-image RMSE over valid pixels, averaged over images (the paper's tables average per image).
    ``first_batch`` is ``(image, target, prediction)`` of the first batch, on the CPU.
    In DDP each process validates its share and the sums are added up.
    """
    was_training = model.training
    model.eval()
    sums = torch.zeros(6, dtype=torch.float64, device=device)
    first: tuple[torch.Tensor, ...] | None = None
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    # islice, not a break after the count: the loader would load one batch more than is evaluated.
    for batch in itertools.islice(loader, max_batches) if max_batches else loader:
        image = batch["image"].to(device, non_blocking=True).contiguous(memory_format=fmt)
        target = batch["target"].to(device, non_blocking=True)
        valid = batch["valid_mask"].to(device, non_blocking=True)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
        ):
            pred = model(image)
        pred = pred.float()
        loss = loss_fn(pred, target, valid)
        sums += _batch_sums(pred, target, valid, loss)
        if first is None:
            first = (image.float().cpu(), target.cpu(), pred.cpu())
    if ddp is not None and ddp.world > 1:
        dist.all_reduce(sums)
    model.train(was_training)
    s = sums.tolist()
    metrics = {
        "val_loss": s[0] / max(s[1], 1.0),
        "val_mse": s[2] / max(s[3], 1.0),
        "val_rmse": s[4] / max(s[5], 1.0),
    }
    return metrics, first


def _load_dataset_pair(
    cfg: TrainConfig, train_set: Dataset[Any] | None, val_set: Dataset[Any] | None
) -> tuple[Dataset[Any], Dataset[Any] | None]:
    if train_set is not None:
        return train_set, val_set
    try:
        from ssrdepth.data import build_dataset
    except ImportError as exc:  # pragma: no cover - only while the data package is missing
        raise ValueError(f"cannot build data sets from the config: {exc}") from exc
    progress = cfg.progress
    return build_dataset(cfg.data, "train", progress=progress), build_dataset(
        cfg.data, cfg.val_split, progress=progress
    )


def _first_image_shape(dataset: Dataset[Any], name: str) -> tuple[int, int, int]:
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError(f"the {name} split is empty")
    sample = dataset[0]
    if not isinstance(sample, dict) or not {"image", "target", "valid_mask"} <= set(sample):
        raise ValueError(
            f"the {name} data set must yield dicts with 'image', 'target' and 'valid_mask' "
            f"(see ssrdepth.data.config), got {type(sample).__name__}"
        )
    c, h, w = (int(v) for v in sample["image"].shape)
    if tuple(sample["target"].shape) != (1, h, w):
        raise ValueError(
            f"the {name} data set's target is {tuple(sample['target'].shape)}, expected (1, {h}, {w})"
        )
    return c, h, w


def _scale_dict(dataset: Dataset[Any]) -> dict[str, Any] | None:
    scale = getattr(dataset, "scale", None)
    return scale.as_dict() if scale is not None and hasattr(scale, "as_dict") else None


# --------------------------------------------------------------------------------------------------
# the API


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
    device = resolve_device(cfg.device, ddp)
    resolve_precision(cfg.precision, device.type)  # refuse fp16 on a CPU before touching the folder
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
    _set_up_process(cfg, ddp, device)
    data = _build_data(cfg, ddp, device, train_set, val_set)
    parts = _build_model(cfg, ddp, device, data)
    loop = _Loop(cfg, ddp, device, run_dir, data, parts, t_start)
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


def _set_up_process(cfg: TrainConfig, ddp: DistInfo, device: torch.device) -> None:
    """Threads, determinism, seeds."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    elif ddp.local_world > 1 and device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // ddp.local_world))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not cfg.deterministic
        torch.backends.cudnn.deterministic = cfg.deterministic
        torch.backends.cuda.matmul.allow_tf32 = not cfg.deterministic
        torch.backends.cudnn.allow_tf32 = not cfg.deterministic
    seed_everything(cfg.seed)


@dataclass
class _Data:
    """The loaders and the schedule in steps."""

    train_set: Dataset[Any]
    sampler: StepSampler
    loader: DataLoader[Any]
    loader_gen: torch.Generator
    val_loader: DataLoader[Any] | None
    channels: int
    height: int
    width: int
    local_batch: int
    steps_per_epoch: int
    total_steps: int
    eval_steps: int
    ckpt_steps: int
    target_scale: dict[str, Any] | None

    @property
    def target_kind(self) -> str:
        """What the training target measures: ``"disparity"`` or ``"depth"`` (disparity when the data
        set does not say; only a zoom augmentation needs to know, and it refuses an unknown kind)."""
        return str((self.target_scale or {}).get("kind", "disparity"))


def _build_data(
    cfg: TrainConfig,
    ddp: DistInfo,
    device: torch.device,
    train_set: Dataset[Any] | None,
    val_set: Dataset[Any] | None,
) -> _Data:
    """Data sets, samplers and loaders (under DDP rank 0 builds the preprocessing caches first, then
    the others read them)."""
    staged = ddp.world > 1 and train_set is None
    if staged and not ddp.main:
        barrier(device)
    train_set, val_set = _load_dataset_pair(cfg, train_set, val_set)
    if staged and ddp.main:
        barrier(device)
    channels, height, width = _first_image_shape(train_set, "training")
    if channels != cfg.data.channels:
        raise ValueError(
            f"the training images have {channels} channel(s) but data.channels = {cfg.data.channels}; "
            "set data.channels to match"
        )
    if val_set is not None:
        _first_image_shape(val_set, "validation")
    if cfg.augment.scale and _scale_dict(train_set) is None:
        raise ValueError(
            "augment.scale (random zoom) rescales the target, so it needs a data set that says whether "
            "its target is disparity or depth (a .scale attribute); set augment.scale=0"
        )
    local_batch = cfg.batch_size // ddp.world
    sampler = StepSampler(train_set, ddp.world, ddp.rank, cfg.seed)
    steps_per_epoch = sampler.samples_per_epoch() // local_batch
    if steps_per_epoch < 1:
        raise SplitTooSmallError(len(train_set), cfg.batch_size)  # type: ignore[arg-type]
    per_unit = 1 if cfg.unit == "steps" else steps_per_epoch
    eval_steps = cfg.eval_every * per_unit
    loader_gen = torch.Generator()  # re-seeded from (seed, epoch) at every epoch (Loop.run)
    loader = DataLoader(
        SeededSamples(train_set),  # each sample's randomness from (seed, epoch, position): any workers
        batch_size=local_batch,
        sampler=SeededSampler(sampler),
        drop_last=True,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        generator=loader_gen,
    )
    val_loader = None
    if val_set is not None:
        val_loader = DataLoader(
            val_set,
            batch_size=cfg.val_batch_size or local_batch,
            sampler=ShardSampler(len(val_set), ddp.world, ddp.rank),  # type: ignore[arg-type]
            num_workers=cfg.workers,
            pin_memory=device.type == "cuda",
        )
    data = _Data(
        train_set=train_set,
        sampler=sampler,
        loader=loader,
        loader_gen=loader_gen,
        val_loader=val_loader,
        channels=channels,
        height=height,
        width=width,
        local_batch=local_batch,
        steps_per_epoch=steps_per_epoch,
        total_steps=cfg.length * per_unit,
        eval_steps=eval_steps,
        ckpt_steps=cfg.checkpoint_every * per_unit or eval_steps,
        target_scale=_scale_dict(train_set),
    )
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if ddp.world > 1:
        dist.barrier()  # rank 0 has cleared the folder (--fresh) before anyone writes
    return data


@dataclass
class _Parts:
    """Model, optimiser, schedule, precision and loss."""

    model: DepthNet
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    autocast_dtype: torch.dtype | None
    loss_fn: LossFn
    masked: bool
    memory_format: torch.memory_format
    precision: str


def _build_model(cfg: TrainConfig, ddp: DistInfo, device: torch.device, data: _Data) -> _Parts:
    """The model (channels-last, DDP-wrapped where asked), optimiser, schedule, scaler and loss."""
    model: DepthNet = create_model(cfg.model.name, data.channels, **asdict(cfg.model.options))
    if cfg.init_from:
        warm_start(model, cfg.init_from)
        if ddp.main:
            logger.info("initialised %s from %s", cfg.model.name, cfg.init_from)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    net: nn.Module = model
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    optimizer = build_optimizer(cfg, list(model.parameters()))
    precision = resolve_precision(cfg.precision, device.type)
    if ddp.main:
        logger.info("precision: %s (asked: %s, device: %s)", precision, cfg.precision, device.type)
    return _Parts(
        model=model,
        net=net,
        optimizer=optimizer,
        scheduler=build_scheduler(cfg, optimizer, data.total_steps),
        scaler=torch.amp.GradScaler("cuda", enabled=precision == "fp16"),
        autocast_dtype={"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision],
        loss_fn=get_loss(cfg.loss),
        masked=cfg.loss in MASKED_LOSSES,
        memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format,
        precision=precision,
    )


def warm_start(model: DepthNet, checkpoint: str | os.PathLike[str]) -> Path:
    """Load the weights of ``checkpoint`` (a ``.pt`` file, or a run folder → its best/latest) into
    ``model`` for fine-tuning; returns the file used.

    Raises:
        FileNotFoundError: no checkpoint there.
        ValueError: the checkpoint holds another network (name, input channels or width): names both
            and the first differing weights.
    """
    path = resolve_checkpoint(checkpoint)
    ckpt = load_checkpoint(path)
    ours = model.state_dict()
    theirs = ckpt.state_dict
    problems = [f"{k} missing" for k in ours if k not in theirs]
    problems += [f"{k} unexpected" for k in theirs if k not in ours]
    problems += [
        f"{k} {tuple(theirs[k].shape)} ≠ {tuple(v.shape)}"
        for k, v in ours.items()
        if k in theirs and theirs[k].shape != v.shape
    ]
    if problems:
        have = f"{ckpt.model.name}, {ckpt.model.in_channels} input channel(s), options {ckpt.model.options}"
        raise ValueError(
            f"{path}: cannot initialise {model.name} ({model.in_channels} input channel(s)) from this "
            f"checkpoint ({have}): {'; '.join(problems[:3])}"
            + (f" and {len(problems) - 3} more" if len(problems) > 3 else "")
            + ". --init-from needs the same network, input channels (data.channels) and weight-bearing "
            "options (model.width, model.norm, model.up_blocks, model.ah_convs)"
        )
    model.load_state_dict(theirs)
    return path


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
    device = resolve_device(cfg.device, ddp)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            _set_up_process(cfg, ddp, device)
            data = _build_data(cfg, ddp, device, train_set, val_set)
            parts = _build_model(cfg, ddp, device, data)
            loop = _Loop(cfg, ddp, device, Path(cfg.out), data, parts, time.perf_counter())
            parts.net.train()
            times: list[float] = []
            batches = iter(data.loader)
            for _ in range(warmup + repeats):
                t0 = time.perf_counter()
                try:
                    batch = next(batches)
                except StopIteration:  # an epoch shorter than the timing: start it again
                    batches = iter(data.loader)
                    batch = next(batches)
                loop.train_step(batch)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times.append(time.perf_counter() - t0)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    return float(statistics.median(times[warmup:]))


class _Loop:
    """The state of one training session, and its steps: restore, open the logs, run the step loop
    (logging, validating and saving at their intervals), finish."""

    def __init__(
        self,
        cfg: TrainConfig,
        ddp: DistInfo,
        device: torch.device,
        run_dir: Path,
        data: _Data,
        parts: _Parts,
        t_start: float,
    ) -> None:
        self.cfg, self.ddp, self.device, self.run_dir = cfg, ddp, device, run_dir
        self.data, self.parts, self.t_start = data, parts, t_start
        self.step = 0
        self.history: dict[str, list[dict[str, float]]] = {"train": [], "val": []}
        self.best: dict[str, Any] | None = None
        self.elapsed_before = 0.0
        self.metrics: dict[str, float] = {}
        self.last_saved: int | None = None
        self.config_dict = config_to_dict(cfg)
        self.train_csv: CsvLog | None = None
        self.val_csv: CsvLog | None = None
        self.writer: Any = None
        self.pbar: Any = None
        # per-interval accumulators
        self.loss_acc = torch.zeros((), dtype=torch.float64, device=device)
        self.acc_steps = 0
        self.last_checked = 0
        self.t_mark = 0.0
        self.train_time = 0.0
        self.train_images = 0
        self.in_update = False
        self.lr_used = 0.0

    def restore(self, resume_from: Path) -> None:
        """Model, optimiser, schedule, scaler, RNG, history and timing from a checkpoint."""
        p = self.parts
        ckpt = load_checkpoint(resume_from, map_location=self.device)
        check_same_run(self.cfg, ckpt.config, resume_from)
        p.model.load_state_dict(ckpt.state_dict)
        p.optimizer.load_state_dict(ckpt.extra["optimizer"])
        p.scheduler.load_state_dict(ckpt.extra["scheduler"])
        if "scaler" in ckpt.extra and p.scaler.is_enabled():
            p.scaler.load_state_dict(ckpt.extra["scaler"])
        if "rng" in ckpt.extra:
            set_rng_state(ckpt.extra["rng"])
        step = self.step = ckpt.step
        history = {k: [dict(r) for r in v] for k, v in ckpt.extra.get("history", self.history).items()}
        self.best = ckpt.extra.get("best")
        self.metrics = ckpt.metrics
        self.elapsed_before = float(ckpt.extra.get("elapsed", 0.0))
        history["train"] = [r for r in history["train"] if r["step"] <= step]
        history["val"] = [r for r in history["val"] if r["step"] <= step]
        self.history = history
        self.last_saved = step

    def open_logs(self) -> None:
        """Config files, CSV logs, TensorBoard and the progress bar (rank 0)."""
        cfg, run_dir = self.cfg, self.run_dir
        if self.ddp.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "config.json", self.config_dict)
            write_text(run_dir / "config.toml", to_toml(self.config_dict))
            self.train_csv = CsvLog(run_dir / TRAIN_LOG, TRAIN_COLUMNS, self.history["train"])
            self.val_csv = CsvLog(run_dir / VAL_LOG, VAL_COLUMNS, self.history["val"])
            if cfg.tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                purge = self.step if self.step else None
                self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        if self.ddp.main and cfg.progress:
            from tqdm import tqdm

            self.pbar = tqdm(
                total=self.data.total_steps,
                initial=self.step,
                desc=f"train {cfg.model.name}",
                unit="step",
                dynamic_ncols=True,
            )

    def save(self, path: Path) -> None:
        p, d = self.parts, self.data
        save_checkpoint(
            path,
            p.model,
            input_size=(d.height, d.width),
            target=d.target_scale,
            step=self.step,
            optimizer=p.optimizer.state_dict(),
            scheduler=p.scheduler.state_dict(),
            **({"scaler": p.scaler.state_dict()} if p.scaler.is_enabled() else {}),
            rng=rng_state(),
            config=self.config_dict,
            metrics=self.metrics,
            history=self.history,
            best=self.best,
            epoch=self.step / d.steps_per_epoch,
            elapsed=self.elapsed_before + time.perf_counter() - self.t_start,
            world_size=self.ddp.world,
            precision_used=p.precision,
        )

    def params_finite(self) -> bool:
        return bool(torch.stack([p.detach().isfinite().all() for p in self.parts.model.parameters()]).all())

    def run(self, on_step: Callable[[int], None] | None) -> None:
        """The step loop, with an interruption saving a consistent state."""
        d = self.data
        self.last_checked = self.step
        self.t_mark = time.perf_counter()
        self.parts.net.train()
        try:
            while self.step < d.total_steps:
                epoch, offset = divmod(self.step, d.steps_per_epoch)
                d.sampler.set_position(epoch, offset * d.local_batch)
                d.loader_gen.manual_seed(self.cfg.seed * 1_000_003 + epoch)
                for batch in d.loader:
                    self.train_step(batch)
                    self.after_step()
                    if on_step is not None:
                        on_step(self.step)
                    if self.step >= d.total_steps:
                        break
        except KeyboardInterrupt:
            self.save_on_interrupt()
            raise
        finally:
            self.close_logs()

    def train_step(self, batch: dict[str, Any]) -> None:
        """One optimiser step; the loss stays on the device (no read-back)."""
        p, device = self.parts, self.device
        if self.cfg.augment.enabled:
            g = step_generator(self.cfg.seed, self.step, self.ddp.rank)
            batch = augment_batch(batch, self.cfg.augment, g, self.data.target_kind)
        image = batch["image"].to(device, non_blocking=True).contiguous(memory_format=p.memory_format)
        target = batch["target"].to(device, non_blocking=True)
        valid = batch["valid_mask"].to(device, non_blocking=True) if p.masked else None
        p.optimizer.zero_grad(set_to_none=True)
        dtype = p.autocast_dtype
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            pred = p.net(image)
        loss = p.loss_fn(pred.float(), target, valid)
        p.scaler.scale(loss).backward()
        self.in_update = True
        if self.cfg.optim.grad_clip:
            p.scaler.unscale_(p.optimizer)
            nn.utils.clip_grad_norm_(p.model.parameters(), self.cfg.optim.grad_clip)
        p.scaler.step(p.optimizer)
        p.scaler.update()
        self.lr_used = p.optimizer.param_groups[0]["lr"]
        p.scheduler.step()
        self.step += 1
        self.in_update = False
        self.loss_acc += loss.detach()
        self.acc_steps += 1
        if self.pbar is not None:
            self.pbar.update(1)

    def after_step(self) -> None:
        """At their intervals: log the mean loss (the only read-back), validate, save."""
        d, step = self.data, self.step
        do_eval = d.val_loader is not None and (
            step == d.total_steps or bool(d.eval_steps and step % d.eval_steps == 0)
        )
        do_save = step == d.total_steps or bool(d.ckpt_steps and step % d.ckpt_steps == 0) or do_eval
        if step % self.cfg.log_every == 0 or do_save:
            row = self.log_interval()
            if do_eval:
                self.validate(row)
            if do_save:
                self.save_checkpoints(do_eval)
            self.t_mark = time.perf_counter()

    def log_interval(self) -> dict[str, float]:
        """Mean loss since the last check, NaN/inf test, the train log row."""
        ddp, step = self.ddp, self.step
        if ddp.world > 1:
            dist.all_reduce(self.loss_acc)
            self.loss_acc /= ddp.world
        mean_loss = self.loss_acc.item() / self.acc_steps
        now = time.perf_counter()
        interval = now - self.t_mark
        self.train_time += interval
        images = self.acc_steps * self.cfg.batch_size
        self.train_images += images
        if not math.isfinite(mean_loss):
            last = self.last_saved
            kept = f"{self.run_dir / LATEST} (step {last})" if last is not None else "none yet"
            raise DivergedError(
                f"training loss became {mean_loss} between steps {self.last_checked + 1} and {step} "
                f"(lr {self.lr_used:.3g}); stopped without writing anything from those "
                f"steps; last good checkpoint: {kept}. Lower optim.lr, set optim.grad_clip, or "
                "check the data for NaN/inf"
            )
        self.last_checked = step
        row: dict[str, float] = {
            "step": step,
            "epoch": round(step / self.data.steps_per_epoch, 4),
            "lr": float(self.lr_used),
            "loss": mean_loss,
            "images_per_second": images / max(interval, 1e-9),
            "seconds": self.elapsed_before + now - self.t_start,
        }
        self.history["train"].append(row)
        if ddp.main:
            assert self.train_csv is not None
            self.train_csv.append(row)
            if self.writer is not None:
                self.writer.add_scalar("train/loss", mean_loss, step)
                self.writer.add_scalar("train/lr", row["lr"], step)
                self.writer.add_scalar("train/images_per_second", row["images_per_second"], step)
            if self.pbar is not None:
                self.pbar.set_postfix(loss=f"{mean_loss:.4g}", img_s=f"{row['images_per_second']:.1f}")
        self.loss_acc.zero_()
        self.acc_steps = 0
        return row

    def validate(self, row: dict[str, float]) -> None:
        """Validation metrics, the best so far, the val log, TensorBoard images."""
        cfg, step, p = self.cfg, self.step, self.parts
        assert self.data.val_loader is not None
        metrics, first = validate(
            p.model,
            self.data.val_loader,
            p.loss_fn,
            self.device,
            autocast_dtype=p.autocast_dtype,
            channels_last=cfg.channels_last,
            max_batches=cfg.val_max_batches,
            ddp=self.ddp,
        )
        self.metrics = metrics
        vrow: dict[str, float] = {"step": step, "epoch": row["epoch"], **metrics}
        self.history["val"].append(vrow)
        value = metrics[cfg.best_metric]
        if self.best is None or value < self.best["value"]:
            self.best = {"metric": cfg.best_metric, "value": value, "step": step}
        if not self.ddp.main:
            return
        assert self.val_csv is not None
        self.val_csv.append(vrow)
        if self.writer is not None:
            for k, v in metrics.items():
                self.writer.add_scalar(f"val/{k[4:]}", v, step)
            if first is not None and cfg.tb_images:
                image_b, target_b, pred_b = (t[: cfg.tb_images] for t in first)
                self.writer.add_images("val/input", image_b.clamp(0, 1), step)
                self.writer.add_images("val/target", target_b.clamp(0, 1), step)
                self.writer.add_images("val/prediction", pred_b.clamp(0, 1), step)
        if self.pbar is not None:
            self.pbar.set_postfix(loss=f"{row['loss']:.4g}", val_rmse=f"{metrics['val_rmse']:.4f}")

    def save_checkpoints(self, evaluated: bool) -> None:
        """``latest.pt`` (and ``best.pt`` when this step is the best), refusing NaN/inf parameters."""
        step = self.step
        if not self.params_finite():
            raise DivergedError(
                f"parameters became NaN/inf by step {step}; stopped without saving; last good "
                f"checkpoint: {self.run_dir / LATEST} (step {self.last_saved}). Lower optim.lr or set "
                "optim.grad_clip"
            )
        if self.ddp.main:
            self.save(self.run_dir / LATEST)
            if evaluated and self.best is not None and self.best["step"] == step:
                self.save(self.run_dir / BEST)
            if self.writer is not None:
                self.writer.flush()
        self.last_saved = step

    def save_on_interrupt(self) -> None:
        """Keep what was done, if the state is consistent (not interrupted inside an update) and sane."""
        ddp = self.ddp
        if ddp.world == 1 and ddp.main and not self.in_update and self.step != self.last_saved:
            loss_ok = self.acc_steps == 0 or math.isfinite(self.loss_acc.item())
            if loss_ok and self.params_finite():
                self.save(self.run_dir / LATEST)
                logger.warning(
                    "interrupted: saved %s at step %d; run again to resume", self.run_dir / LATEST, self.step
                )

    def close_logs(self) -> None:
        if self.pbar is not None:
            self.pbar.close()
        for log in (self.train_csv, self.val_csv):
            if log is not None:
                log.close()
        if self.writer is not None:
            self.writer.close()

    def finish(self) -> TrainResult:
        """The result, the curves and ``result.json``."""
        run_dir, ddp = self.run_dir, self.ddp
        result = TrainResult(
            run_dir=run_dir,
            best_checkpoint=run_dir / BEST if self.best is not None else None,
            latest_checkpoint=run_dir / LATEST,
            history=self.history,
            seconds=self.elapsed_before + time.perf_counter() - self.t_start,
            images_per_second=self.train_images / self.train_time if self.train_time > 0 else 0.0,
            steps=self.step,
            best=self.best,
            precision=self.parts.precision,
        )
        if ddp.main:
            plot_curves(self.history, run_dir / CURVES)
            write_json(run_dir / RESULT, {"result": result.to_dict(), "config": self.config_dict})
        if ddp.world > 1:
            dist.barrier()
        return result


__all__ = [
    "DivergedError",
    "SplitTooSmallError",
    "StepSampler",
    "TrainResult",
    "build_optimizer",
    "build_scheduler",
    "measure_step_seconds",
    "plot_curves",
    "split_too_small_message",
    "train",
    "validate",
]

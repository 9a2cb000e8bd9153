"""The trained parts of a run: the model (in its memory format, DDP-wrapped where asked, optionally warm-started
from another checkpoint), the optimiser, the learning-rate schedule, the precision and its gradient
scaler, and the loss (:class:`TrainParts`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssrdepth.checkpoint import load_checkpoint, resolve_checkpoint, weight_mismatches
from ssrdepth.core.hardware import resolve_precision
from ssrdepth.losses import MASKED_LOSSES, LossFn, get_loss
from ssrdepth.models import DepthNet, create_model
from ssrdepth.runtime import autocast_dtype, memory_format
from ssrdepth.runtime.layout import choose_channels_last, resolve_channels_last
from ssrdepth.training.config import TrainConfig
from ssrdepth.training.data_setup import TrainData
from ssrdepth.training.distributed import DistInfo

logger = logging.getLogger(__name__)


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


@dataclass
class TrainParts:
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
    #: the memory format the steps run in (``channels_last = "auto"`` resolved on this machine)
    channels_last: bool = False


def build_parts(cfg: TrainConfig, ddp: DistInfo, device: torch.device, data: TrainData) -> TrainParts:
    """The model (channels-last, DDP-wrapped where asked), optimiser, schedule, scaler and loss."""
    model: DepthNet = create_model(cfg.model.name, data.channels, **asdict(cfg.model.options))
    if cfg.init_from:
        warm_start(model, cfg.init_from)
        if ddp.main:
            logger.info("initialised %s from %s", cfg.model.name, cfg.init_from)
    model = model.to(device)
    precision = resolve_precision(cfg.precision, device.type)
    loss_fn = get_loss(cfg.target_loss)
    channels_last = _channels_last(cfg, ddp, device, model, data, loss_fn, autocast_dtype(precision))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    net: nn.Module = model
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    optimizer = build_optimizer(cfg, list(model.parameters()))
    if ddp.main:
        logger.info("precision: %s (asked: %s, device: %s)", precision, cfg.precision, device.type)
    return TrainParts(
        model=model,
        net=net,
        optimizer=optimizer,
        scheduler=build_scheduler(cfg, optimizer, data.total_steps),
        scaler=torch.amp.GradScaler("cuda", enabled=precision == "fp16"),
        autocast_dtype=autocast_dtype(precision),
        loss_fn=loss_fn,  # the stereo losses: the target loss validation scores
        masked=cfg.target_loss in MASKED_LOSSES,
        memory_format=memory_format(channels_last),
        precision=precision,
        channels_last=channels_last,
    )


def _channels_last(
    cfg: TrainConfig,
    ddp: DistInfo,
    device: torch.device,
    model: DepthNet,
    data: TrainData,
    loss_fn: LossFn,
    dtype: torch.dtype | None,
) -> bool:
    """``cfg.channels_last`` resolved: as given, or for ``"auto"`` the faster format of this run's step
    on this machine (:func:`ssrdepth.runtime.layout.choose_channels_last`, measured once per machine
    and setting and cached). Under DDP ``auto`` keeps channels-last without measuring, so that every
    process runs the same format."""
    given = resolve_channels_last(cfg.channels_last)
    if given is not None:
        return given
    if ddp.world > 1:
        if ddp.main:
            logger.info("memory format: channels-last (auto under DDP: not measured per process)")
        return True
    height, width = cfg.data.size
    what = {
        "model": cfg.model.name,
        "options": asdict(cfg.model.options),
        "channels": data.channels,
        "loss": cfg.loss,
    }
    choice = choose_channels_last(
        model,
        (cfg.batch_size, data.channels, height, width),
        lambda pred, target: loss_fn(pred, target, None),
        device,
        dtype,
        what,
    )
    logger.info("%s", choice.summary())
    return choice.channels_last


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
    theirs = ckpt.state_dict
    problems = weight_mismatches(model.state_dict(), theirs)
    if problems:
        have = f"{ckpt.model.name}, {ckpt.model.in_channels} input channel(s), options {ckpt.model.options}"
        raise ValueError(
            f"{path}: cannot initialise {model.name} ({model.in_channels} input channel(s)) from this "
            f"checkpoint ({have}): {problems}"
            ". --init-from needs the same network, input channels (data.channels) and weight-bearing "
            "options (model.width, model.norm, model.up_blocks, model.ah_convs)"
        )
    model.load_state_dict(theirs)
    return path

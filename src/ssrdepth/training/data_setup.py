"""The training data of a run: the data-set pair (given, or built from ``cfg.data``), its checks, the
seeded samplers and loaders, and the schedule in steps (:class:`TrainData`).

Under DDP rank 0 builds the preprocessing caches first, then the other processes read them.

The stereo losses (``loss = "photometric" | "hybrid"``, :mod:`ssrdepth.training.photometric`) read
the right view: their data sets are built with ``data.right_view`` on; with ``data.target = "none"``
(photometric) nothing needs ``prepare-targets`` and there is nothing to validate against, so the
run has no validation set (no ``best.pt``; ``latest.pt`` is the model).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset

from ssrdepth.training.config import TrainConfig
from ssrdepth.training.distributed import DistInfo, barrier
from ssrdepth.training.photometric import STEREO_LOSSES
from ssrdepth.training.sampler import SeededSampler, SeededSamples, ShardSampler, StepSampler

logger = logging.getLogger(__name__)

#: How ``train`` alone gets more training data (``reproduce``, ``demo`` and ``study`` name their option).
MORE_DATA = "train on a larger data set"


#: How a command lowers the training batch, in the message of a too-small split (``train``'s way).
LOWER_BATCH = "--set batch_size=N"


def split_too_small_message(
    samples: int, batch_size: int, more_data: str = MORE_DATA, lower_batch: str = LOWER_BATCH
) -> str:
    """The one message for a training split smaller than the batch, naming both fixes in the calling
    command's own options: a smaller batch (``lower_batch``, e.g. ``--set batch_size=N``) or more data
    (``more_data``, e.g. ``more pairs with --pairs``)."""
    return (
        f"the training split has {samples} samples, fewer than the batch size {batch_size}: "
        f"lower the batch with {lower_batch} (N ≤ {samples}), or {more_data}"
    )


class SplitTooSmallError(ValueError):
    """The training split holds fewer samples than one batch (:func:`split_too_small_message`)."""

    def __init__(
        self, samples: int, batch_size: int, more_data: str = MORE_DATA, lower_batch: str = LOWER_BATCH
    ) -> None:
        super().__init__(split_too_small_message(samples, batch_size, more_data, lower_batch))
        self.samples = samples
        self.batch_size = batch_size
        self.more_data = more_data
        self.lower_batch = lower_batch

    def __reduce__(self) -> tuple[type, tuple[int, int, str, str]]:  # pickled whole from a worker process
        return type(self), (self.samples, self.batch_size, self.more_data, self.lower_batch)


def load_dataset_pair(
    cfg: TrainConfig, train_set: Dataset[Any] | None, val_set: Dataset[Any] | None
) -> tuple[Dataset[Any], Dataset[Any] | None]:
    """The given data sets, or the ``"train"`` and ``cfg.val_split`` splits of ``cfg.data`` (with the
    right view for the stereo losses; no validation split for ``data.target = "none"``)."""
    from ssrdepth.data import build_dataset

    if train_set is not None:
        return train_set, val_set
    progress = cfg.progress
    data = cfg.data
    if cfg.loss in STEREO_LOSSES and not data.right_view:
        data = dataclasses.replace(data, right_view=True)
    train = build_dataset(data, "train", progress=progress)
    if data.target == "none":
        logger.info("data.target = none: no targets to validate against; latest.pt is the trained model")
        return train, None
    return train, build_dataset(data, cfg.val_split, progress=progress)


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


def check_targets_for_loss(cfg: TrainConfig) -> None:
    """The loss and the data's targets agree (checked at the start of a run, not per ``--set``, so
    that overrides can come in any order).

    Raises:
        ValueError: ``data.target = "none"`` with a loss other than ``photometric``, or ``hybrid``
            without stereo targets (its hints).
    """
    if cfg.data.target == "none" and cfg.loss != "photometric":
        raise ValueError(
            f"data.target = none has no training targets, so loss {cfg.loss!r} has nothing to learn "
            "from; use loss=photometric (the stereo pair teaches) or a target (data.target=stereo)"
        )
    if cfg.loss == "hybrid" and cfg.data.target != "stereo":
        raise ValueError(
            f"loss = hybrid uses the matcher's disparity as hints, but data.target = {cfg.data.target}; "
            "set data.target=stereo (targets from prepare-targets) or use loss=photometric"
        )


def _check_stereo(cfg: TrainConfig, dataset: Dataset[Any], scale: dict[str, Any] | None) -> None:
    """The stereo losses need a right view and a disparity scale (what a map means in pixels)."""
    if cfg.loss not in STEREO_LOSSES:
        return
    if "right" not in dataset[0]:
        raise ValueError(
            f"loss {cfg.loss!r} warps the right view into the left, but the training samples have no "
            "'right' image: use a stereo source (data.right_view is set for it), or give samples a 'right'"
        )
    if scale is None or scale.get("kind") != "disparity":
        raise ValueError(
            f"loss {cfg.loss!r} needs a data set whose .scale is a disparity TargetScale (pixels of "
            "disparity per normalised unit), got " + ("none" if scale is None else repr(scale.get("kind")))
        )


def _scale_dict(dataset: Dataset[Any]) -> dict[str, Any] | None:
    scale = getattr(dataset, "scale", None)
    return scale.as_dict() if scale is not None and hasattr(scale, "as_dict") else None


@dataclass
class TrainData:
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


def build_data(
    cfg: TrainConfig,
    ddp: DistInfo,
    device: torch.device,
    train_set: Dataset[Any] | None,
    val_set: Dataset[Any] | None,
) -> TrainData:
    """Data sets, samplers and loaders (under DDP rank 0 builds the preprocessing caches first, then
    the others read them)."""
    check_targets_for_loss(cfg)
    staged = ddp.world > 1 and train_set is None
    if staged and not ddp.main:
        barrier(device)
    train_set, val_set = load_dataset_pair(cfg, train_set, val_set)
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
    _check_stereo(cfg, train_set, _scale_dict(train_set))
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
    loader_gen = torch.Generator()  # re-seeded from (seed, epoch) at every epoch (Session.run)
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
    data = TrainData(
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

"""The one home of the training configuration's schema: the frozen dataclasses a run is built from.

:class:`TrainConfig` (with :class:`ModelConfig`, :class:`OptimConfig`, :class:`ScheduleConfig`, and
the data and augmentation sections from :mod:`ssrdepth.data.config` and
:mod:`ssrdepth.training.augment`) is everything a training run depends on. Each class checks its
values in ``__post_init__``; a bad value raises ``ValueError`` naming the field and listing the valid
choices.

Also here, because the schema states its rates on it: the learning-rate scale (:data:`MSE_LR`,
:func:`paper_lr`), and the schema's adapters to the generic engine
(:mod:`ssrdepth.core.config_engine`): :func:`config_to_dict` and :func:`apply_overrides` (with the
``model.<option>`` short form). The named presets are in :mod:`ssrdepth.training.presets`; building a
config from preset, TOML file and overrides is in :mod:`ssrdepth.training.config`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ssrdepth.core import config_engine
from ssrdepth.core.config_engine import parse_override as _parse_override
from ssrdepth.core.config_engine import to_toml
from ssrdepth.core.hardware import PRECISIONS
from ssrdepth.data.config import DataConfig
from ssrdepth.losses import LOSSES, UNCERTAINTY_LOSSES
from ssrdepth.models import ModelOptions, canonical_name
from ssrdepth.training.augment import AugmentConfig
from ssrdepth.training.photometric import STEREO_LOSSES, PhotometricConfig

__all__ = [
    "BEST_METRICS",
    "EXECUTION_FIELDS",
    "MSE_LR",
    "OPTIMIZERS",
    "SCHEDULES",
    "UNITS",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "apply_overrides",
    "config_to_dict",
    "paper_lr",
    "parse_override",
    "to_toml",
]

#: Peak learning rate for SGD + momentum 0.9 on the *per-pixel mean* (``mse``) scale, measured on the
#: synthetic street set at 37×147, 94×310 and 240×320 (docs/training.md, "Learning rates"): 0.01 is the
#: best of 0.003…0.3 for every model, and 0.03 or more lets the output sigmoid die (a constant map).
#: ``optim.lr`` is stated on this scale; for ``l2_paper`` SGD gets it divided by T/2 (:func:`paper_lr`).
MSE_LR = 0.01


def paper_lr(mse_lr: float, size: tuple[int, int], loss: str = "l2_paper") -> float:
    """The SGD rate for ``loss`` that matches ``mse_lr`` on the per-pixel mean: eq. 1 sums over the
    T = H·W pixels and halves, so its gradient is T/2 times larger."""
    if loss in ("l2_paper", "masked_l2_paper"):
        return mse_lr * 2.0 / (size[0] * size[1])
    return mse_lr


OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
UNITS = ("steps", "epochs")
#: Validation metrics a "best" checkpoint can be chosen by (all: lower is better).
BEST_METRICS = ("val_rmse", "val_mse", "val_loss")

#: Fields that change how a run is executed or reported but not what it computes: a finished or
#: interrupted run in the output folder is reused when everything else is equal.
EXECUTION_FIELDS = (
    "out",
    "device",
    "workers",
    "threads",
    "log_every",
    "tensorboard",
    "tb_images",
    "progress",
    "preset",
)


@dataclass(frozen=True)
class ModelConfig:
    """Which network: a registered name (case-insensitive, aliases allowed) and its options.

    Input channels come from ``data.channels``.
    """

    name: str = "SCRX"
    options: ModelOptions = field(default_factory=ModelOptions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonical_name(self.name))


@dataclass(frozen=True)
class OptimConfig:
    """The optimiser over *all* parameters (a single training stage, the paper's point).

    Attributes:
        name: ``"sgd"`` (with momentum; the paper's "SGD", rate and momentum not given [A]), ``"adam"`` or
            ``"adamw"`` (decoupled weight decay; the recipe's).
        lr: peak learning rate **on the per-pixel (``mse``) scale**, so that one value fits every size
            and loss: eq. 1 (``l2_paper``) = T/2 × ``mse`` (T = H·W pixels), so SGD on a per-image-sum
            loss gets ``lr × 2/T`` (:attr:`TrainConfig.effective_lr`); Adam and AdamW are invariant to
            the loss's scale and get ``lr`` as it is.
        momentum, nesterov: SGD only.
        betas, eps: Adam only.
        weight_decay: L2 penalty (coupled, as torch's SGD/Adam do it).
        grad_clip: clip the global gradient norm to this value; 0 = off.
    """

    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if self.weight_decay < 0 or self.grad_clip < 0 or self.eps <= 0:
            raise ValueError("weight_decay and grad_clip must be ≥ 0 and eps > 0")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule over the run's optimiser steps; lengths are *fractions* of the run, so one
    schedule fits both readings of the paper's length.

    Attributes:
        name: ``"constant"``, ``"step"`` (× ``gamma`` at each milestone) or ``"cosine"`` (to
            ``final_lr_ratio`` × lr at the last step).
        warmup: fraction of the run spent ramping linearly from ~0 to the peak rate (0 = none).
        milestones: ``"step"`` only: fractions of the run at which the rate is multiplied by ``gamma``.
        gamma: ``"step"`` only: the decay factor.
        final_lr_ratio: ``"cosine"`` only: the last step's rate / the peak rate.
    """

    name: str = "constant"
    warmup: float = 0.0
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    final_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; valid schedules: {', '.join(SCHEDULES)}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of the run in [0, 1), got {self.warmup}")
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing fractions in (0, 1), got {self.milestones}")
        if not 0 < self.gamma <= 1 or not 0 <= self.final_lr_ratio <= 1:
            raise ValueError("gamma must be in (0, 1] and final_lr_ratio in [0, 1]")

    def factor(self, step: int, total_steps: int) -> float:
        """Multiplier on the peak rate for optimiser step ``step`` (0-based) of ``total_steps``."""
        total = max(1, total_steps)
        warm = round(self.warmup * total)
        if step < warm:
            return (step + 1) / (warm + 1)
        t = step / total
        if self.name == "step":
            return self.gamma ** sum(t >= m for m in self.milestones)
        if self.name == "cosine":
            span = max(1, total - 1 - warm)
            progress = min(1.0, (step - warm) / span)
            return self.final_lr_ratio + (1 - self.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Build with :func:`resolve_config`.

    Attributes:
        model, data, optim, schedule: see their classes. ``data.size`` is ``(H, W)``.
        init_from: fine-tuning: a checkpoint (file or run folder) whose weights initialise the model
            (the same network, input channels and width; a new optimiser and schedule); "" = random
            initialisation.
        augment: training-time augmentation (:mod:`ssrdepth.training.augment`; off by default and in
            the paper presets, on in the recipe).
        loss: a name in :data:`ssrdepth.losses.LOSSES` (``l2_paper`` = eq. 1, ``mse``, ``masked_*``), or a
            stereo self-supervision of :mod:`ssrdepth.training.photometric`: ``"photometric"`` (the
            right view warped by the prediction; no targets needed: ``data.target = "none"``) or
            ``"hybrid"`` (Depth Hints: the matcher's targets where they reproject better).
        photometric: the weights of the stereo losses (:class:`~ssrdepth.training.photometric.PhotometricConfig`).
        batch_size: the *global* batch (the paper: 40); split evenly over DDP processes.
        length, unit: how long to train: ``length`` optimiser steps or ``length`` epochs (passes over the
            training split; the last incomplete batch of an epoch is dropped).
        seed: seeds the model's initialisation and the data order.
        eval_every: validate every this many ``unit`` (0 = only at the end; the end always validates).
        checkpoint_every: write ``latest.pt`` every this many ``unit`` (0 = at each validation).
        log_every: log (CSV, TensorBoard, progress bar) and check the loss for NaN/inf every this many
            steps. A step's loss is read back from the device only here, so larger is faster on GPUs.
        best_metric: validation metric that picks ``best.pt`` (lower is better).
        val_split: split of the data set used for validation ("test": the paper has no validation split).
        val_batch_size: 0 = ``batch_size``. val_max_batches: 0 = the whole split.
        out: the run folder (checkpoints, logs, config).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when present).
        precision: ``"auto"`` (default: bf16 autocast on CUDA and on CPUs with native bf16 — AMX or
            AVX-512 BF16 — else fp32; :func:`ssrdepth.core.hardware.resolve_precision`), ``"fp32"``,
            or autocast to ``"bf16"`` / ``"fp16"`` (fp16 with gradient scaling, CUDA only). The loss is
            always computed in fp32. The resolved choice is logged and stored in the run's result and
            checkpoints (``precision_used``).
        channels_last: NHWC memory format for model and inputs: ``true``, ``false`` or ``"auto"``
            (default: the faster of the two for this run's network, batch shape and precision, measured
            once per machine and cached — :mod:`ssrdepth.runtime.layout`; channels-last measured
            ×1.10–1.26 faster on CPUs with native bf16 and on GPUs; on AVX2-only CPUs in float32
            6 % slower on one and 10–20 % faster on another; BENCHMARKS.md). The format used is logged and stored in the run's result
            and checkpoints (``channels_last_used``).
        deterministic: deterministic CUDA kernels (slower; CPU kernels are deterministic anyway).
        workers: DataLoader worker processes (0 = load in the training process).
        threads: torch intra-op CPU threads (0 = torch's default, divided among local DDP processes).
        tensorboard, tb_images: write TensorBoard scalars and this many validation images.
        progress: show a tqdm progress bar.
        preset: the preset this configuration started from (informational).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: str = "l2_paper"
    # The calibrated SGD rate on the per-pixel scale (see MSE_LR); effective_lr derives eq. 1's.
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=MSE_LR))
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    photometric: PhotometricConfig = field(default_factory=PhotometricConfig)
    init_from: str = ""
    batch_size: int = 40
    length: int = 1000
    unit: str = "steps"
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 10
    best_metric: str = "val_rmse"
    val_split: str = "test"
    val_batch_size: int = 0
    val_max_batches: int = 0
    out: str = "runs/train"
    device: str = "cpu"
    precision: str = "auto"
    channels_last: bool | str = "auto"
    deterministic: bool = False
    workers: int = 0
    threads: int = 0
    tensorboard: bool = True
    tb_images: int = 4
    progress: bool = True
    preset: str = ""

    def __post_init__(self) -> None:
        if self.loss not in LOSSES and self.loss not in STEREO_LOSSES:
            raise ValueError(
                f"unknown loss {self.loss!r}; valid losses: {', '.join((*LOSSES, *STEREO_LOSSES))}"
            )
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}; valid units: {', '.join(UNITS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid values: {', '.join(PRECISIONS)}")
        if not isinstance(self.channels_last, bool) and self.channels_last != "auto":
            raise ValueError(f"channels_last: expected true or false, or 'auto', got {self.channels_last!r}")
        if self.best_metric not in BEST_METRICS:
            raise ValueError(
                f"unknown best_metric {self.best_metric!r}; valid metrics: {', '.join(BEST_METRICS)}"
            )
        dev = self.device
        if not (dev in ("cpu", "cuda", "auto") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise ValueError(f"unknown device {dev!r}; valid devices: cpu, cuda, cuda:N, auto")
        for name in ("batch_size", "length", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        for name in (
            "eval_every",
            "checkpoint_every",
            "val_batch_size",
            "val_max_batches",
            "workers",
            "threads",
            "tb_images",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if not self.out:
            raise ValueError("out (the run folder) must not be empty")

    def check_uncertainty(self) -> None:
        """The uncertainty head (``model.options.uncertainty``) trains with, and only with, a likelihood
        loss (:data:`~ssrdepth.losses.UNCERTAINTY_LOSSES`). Checked when training starts, not on each
        override, so ``--set`` can switch both in either order.

        Raises:
            ValueError: one set without the other, naming both keys.
        """
        if self.model.options.uncertainty != (self.loss in UNCERTAINTY_LOSSES):
            raise ValueError(
                f"model.options.uncertainty={str(self.model.options.uncertainty).lower()} with loss "
                f"{self.loss!r}: the uncertainty head trains with, and only with, a likelihood loss "
                f"({', '.join(UNCERTAINTY_LOSSES)}); set both or neither"
            )

    @property
    def target_loss(self) -> str:
        """The loss on targets: ``loss``, or for the stereo losses the masked loss that validation
        scores the matcher's targets with (the hint loss, ``masked_l1`` for ``log_l1``)."""
        if self.loss not in STEREO_LOSSES:
            return self.loss
        hint = self.photometric.hint_loss
        return "masked_l1" if hint == "log_l1" else hint

    @property
    def effective_lr(self) -> float:
        """The peak rate the optimiser gets: ``optim.lr`` × 2/T for SGD on a per-image-sum loss
        (``l2_paper``, ``masked_l2_paper``; T = H·W of ``data.size``), else ``optim.lr``."""
        if self.optim.name == "sgd":
            return paper_lr(self.optim.lr, self.data.size, self.loss)
        return self.optim.lr

    def identity(self) -> dict[str, Any]:
        """The configuration without :data:`EXECUTION_FIELDS`: two runs with equal identities compute
        the same thing, so one can resume or reuse the other."""
        d = config_to_dict(self)
        for name in EXECUTION_FIELDS:
            d.pop(name, None)
        return d


# --------------------------------------------------------------------------------------------------
# the schema on the generic engine


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Nested plain dict (tuples as lists): JSON-, TOML- and ``torch.load(weights_only=True)``-safe."""
    out: dict[str, Any] = config_engine.to_plain(cfg)
    return out


_EXAMPLE = "optim.lr=0.01 or model.name=SC"


def parse_override(text: str) -> tuple[str, str]:
    """``"data.size=37,147"`` → ``("data.size", "37,147")``."""
    return _parse_override(text, _EXAMPLE)


def _expand(parts: list[str]) -> list[str]:
    """``model.<option>`` → ``model.options.<option>``."""
    if len(parts) == 2 and parts[0] == "model" and parts[1] in ModelOptions.names():
        return ["model", "options", parts[1]]
    return parts


def apply_overrides(cfg: TrainConfig, overrides: Iterable[str] | Mapping[str, Any]) -> TrainConfig:
    """Apply dotted ``key=value`` overrides (strings as on the command line, or a mapping of dotted keys
    to values). ``model.<option>`` is accepted as a short form of ``model.options.<option>``."""
    return config_engine.apply_overrides(cfg, overrides, option="--set", example=_EXAMPLE, expand=_expand)

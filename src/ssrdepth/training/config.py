"""The training configuration: frozen dataclasses, named presets, TOML files and ``key=value`` overrides.

One :class:`TrainConfig` drives a run. It is built in three layers, each overriding the last:

1. a named preset (:func:`get_preset`, e.g. ``"kitti-gray-147x37@epochs"``), else the defaults;
2. a TOML file (:func:`load_config`; it may name its own base with a top-level ``preset = "..."``);
3. ``--set key=value`` overrides with dotted keys (``data.size=37,147``, ``model.name=SC``,
   ``optim.lr=1e-4``; :func:`apply_overrides`).

Every value is checked where it enters; a bad value raises ``ValueError`` naming the key and listing
the valid choices. The resolved configuration is written into the run folder (``config.json``,
``config.toml``) and into every checkpoint (:func:`config_to_dict`).

The paper's "1,000 iterations" is ambiguous (1,000 steps of batch 40 is only ~3 epochs of KITTI's
12,482 training pairs, yet training reportedly took two days), so every paper preset has two readings:
``NAME@steps`` (1,000 optimiser steps, the default when no suffix is given) and ``NAME@epochs``
(1,000 passes over the training split).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ssrdepth.core.hardware import PRECISIONS
from ssrdepth.core.sizes import parse_size
from ssrdepth.data.config import DataConfig
from ssrdepth.losses import LOSSES
from ssrdepth.models import ModelOptions, canonical_name
from ssrdepth.training.augment import AugmentConfig

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
UNITS = ("steps", "epochs")
#: Validation metrics a "best" checkpoint can be chosen by (all: lower is better).
BEST_METRICS = ("val_rmse", "val_mse", "val_loss")
#: Readings of the paper's "1,000 iterations" (preset suffixes).
READINGS = ("steps", "epochs")

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
        loss: a name in :data:`ssrdepth.losses.LOSSES` (``l2_paper`` = eq. 1, ``mse``, ``masked_*``).
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
        channels_last: NHWC memory format for model and inputs (default: measured ×1.10–1.26 faster
            training on a 2-core CPU for all six models, and faster on GPUs; BENCHMARKS.md).
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
    channels_last: bool = True
    deterministic: bool = False
    workers: int = 0
    threads: int = 0
    tensorboard: bool = True
    tb_images: int = 4
    progress: bool = True
    preset: str = ""

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; valid losses: {', '.join(LOSSES)}")
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}; valid units: {', '.join(UNITS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid values: {', '.join(PRECISIONS)}")
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
# dict ↔ config


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Nested plain dict (tuples as lists): JSON-, TOML- and ``torch.load(weights_only=True)``-safe."""
    out: dict[str, Any] = _plain(cfg)
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a TOML or command-line value to the field type ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str):
            value = _parse_sequence(value, key)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ValueError(f"{key}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}: expected a string, got {value!r}")
        return value
    raise ValueError(f"{key}: cannot set a value of type {_type_name(tp)}")


def _parse_scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _parse_sequence(text: str, key: str) -> list[Any]:
    """``"37,147"``, ``"[37, 147]"`` or ``"147x37"`` (W×H, as the paper and ``ssrdepth models`` write
    sizes; only for two-element fields) → a list."""
    t = text.strip()
    if "x" in t.lower() and "," not in t and not t.startswith("["):
        try:
            return list(parse_size(t))
        except ValueError:
            raise ValueError(
                f"{key}: expected WIDTHxHEIGHT (e.g. 147x37) or H,W (e.g. 37,147), got {text!r}"
            ) from None
    if not t.startswith("["):
        t = f"[{t}]"
    try:
        value = tomllib.loads(f"v = {t}")["v"]
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{key}: cannot read {text!r} as a list ({exc})") from None
    return list(value)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _update(obj: Any, changes: Mapping[str, Any], prefix: str) -> Any:
    """``dataclasses.replace`` recursively with checked, converted values."""
    cls = type(obj)
    names = [f.name for f in fields(obj)]
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in changes.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ValueError(
                f"unknown config key {full!r}; valid keys here: {', '.join(prefix + n for n in names)}"
            )
        current = getattr(obj, key)
        if is_dataclass(current):
            if not isinstance(value, Mapping):
                sub = ", ".join(f"{full}.{f.name}" for f in fields(current))
                raise ValueError(f"{full} is a section; set its keys instead: {sub}")
            kwargs[key] = _update(current, value, f"{full}.")
        else:
            kwargs[key] = _coerce(value, hints[key], full)
    try:
        return dataclasses.replace(obj, **kwargs)
    except ValueError as exc:
        where = prefix.rstrip(".") or "config"
        raise ValueError(f"{where}: {exc}") from None


def config_from_dict(d: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """A config from a nested dict (as written by :func:`config_to_dict` or read from TOML) on top of
    ``base`` (default: :class:`TrainConfig` defaults). Unknown keys and bad values raise ValueError."""
    changes = dict(d)
    preset = changes.pop("preset", None)
    if base is None:
        base = get_preset(preset) if preset else TrainConfig()
    cfg = _update(base, changes, "")
    if preset:
        cfg = dataclasses.replace(cfg, preset=str(preset))
    return typing.cast(TrainConfig, cfg)


def parse_override(text: str) -> tuple[str, str]:
    """``"data.size=37,147"`` → ``("data.size", "37,147")``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r}: expected KEY=VALUE, e.g. optim.lr=0.01 or model.name=SC")
    return key.strip(), value.strip()


def apply_overrides(cfg: TrainConfig, overrides: Iterable[str] | Mapping[str, Any]) -> TrainConfig:
    """Apply dotted ``key=value`` overrides (strings as on the command line, or a mapping of dotted keys
    to values). ``model.<option>`` is accepted as a short form of ``model.options.<option>``."""
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    option_names = set(ModelOptions.names())
    for key, value in items:
        parts = key.split(".")
        if len(parts) == 2 and parts[0] == "model" and parts[1] in option_names:
            parts = ["model", "options", parts[1]]
        nested: Any = value
        for part in reversed(parts):
            nested = {part: nested}
        try:
            cfg = _update(cfg, nested, "")
        except ValueError as exc:
            raise ValueError(f"--set {key}={value}: {exc}") from None
    return cfg


def load_config(path: str | Path, base: TrainConfig | None = None) -> TrainConfig:
    """Read a TOML config file. A top-level ``preset = "NAME"`` picks the base unless ``base`` is given."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such config file")
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML ({exc})") from None
    try:
        return config_from_dict(d, base)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None


def resolve_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Iterable[str] | Mapping[str, Any] = (),
) -> TrainConfig:
    """Preset (or defaults) → TOML file → overrides, as the ``train`` command does."""
    cfg = get_preset(preset) if preset else None
    if config_file is not None:
        cfg = load_config(config_file, base=cfg)
    if cfg is None:
        cfg = TrainConfig()
    return apply_overrides(cfg, overrides)


# --------------------------------------------------------------------------------------------------
# TOML writing (tomllib only reads)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {v!r} to TOML")


def to_toml(d: Mapping[str, Any], _prefix: str = "") -> str:
    """A nested dict as TOML. ``None`` values are left out (TOML has no null; reading restores the
    default, which is ``None`` for every optional field here)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if v is not None and not isinstance(v, Mapping)]
    for k, v in d.items():
        if isinstance(v, Mapping):
            name = f"{_prefix}{k}"
            lines.append(f"\n[{name}]")
            lines.append(to_toml(v, f"{name}.").strip("\n"))
    return "\n".join(line for line in lines if line) + "\n"


# --------------------------------------------------------------------------------------------------
# presets

#: Peak learning rate for SGD + momentum 0.9 on the *per-pixel mean* (``mse``) scale, measured on the
#: synthetic street set at 37×147, 94×310 and 240×320 (docs/training.md, "Learning rates"): 0.01 is the
#: best of 0.003…0.3 for every model, and 0.03 or more lets the output sigmoid die (a constant map).
#: ``optim.lr`` is stated on this scale; for ``l2_paper`` SGD gets it divided by T/2 (:func:`paper_lr`).
MSE_LR = 0.01

#: Where the paper-preset data sets are expected by default (override with ``--set data.root=...``).
KITTI_ROOT = "data/kitti_tracking"
NYU_ROOT = "data/nyu"


def paper_lr(mse_lr: float, size: tuple[int, int], loss: str = "l2_paper") -> float:
    """The SGD rate for ``loss`` that matches ``mse_lr`` on the per-pixel mean: eq. 1 sums over the
    T = H·W pixels and halves, so its gradient is T/2 times larger."""
    if loss in ("l2_paper", "masked_l2_paper"):
        return mse_lr * 2.0 / (size[0] * size[1])
    return mse_lr


def _paper(
    source: str, root: str, size: tuple[int, int], channels: int, target: str, description: str
) -> tuple[TrainConfig, str]:
    data = DataConfig(source=source, root=root, size=size, channels=channels, target=target)
    cfg = TrainConfig(
        model=ModelConfig("SCRX"),
        data=data,
        loss="l2_paper",
        optim=OptimConfig("sgd", lr=MSE_LR, momentum=0.9),
        schedule=ScheduleConfig("cosine", warmup=0.02),
        batch_size=40,
        length=1000,
        unit="steps",
        eval_every=100,
        checkpoint_every=0,
        log_every=10,
        out="runs/train",
    )
    return cfg, description


def _build_presets() -> dict[str, tuple[TrainConfig, str]]:
    kitti_note = "KITTI tracking stereo, ELAS/SGM disparity targets"
    presets = {
        "kitti-gray-147x37": _paper(
            "kitti-tracking",
            KITTI_ROOT,
            (37, 147),
            1,
            "stereo",
            f"Table 1 (set model.name per row): {kitti_note}",
        ),
        "kitti-rgb-310x94": _paper(
            "kitti-tracking", KITTI_ROOT, (94, 310), 3, "stereo", f"Table 2 colour: {kitti_note}"
        ),
        "kitti-gray-310x94": _paper(
            "kitti-tracking", KITTI_ROOT, (94, 310), 1, "stereo", f"Table 2 gray: {kitti_note}"
        ),
        "nyu-rgb-320x240": _paper(
            "nyu", NYU_ROOT, (240, 320), 3, "depth", "Table 3 colour: NYU Depth v2 795/654"
        ),
        "nyu-gray-320x240": _paper(
            "nyu", NYU_ROOT, (240, 320), 1, "depth", "Table 3 gray: NYU Depth v2 795/654"
        ),
        "synthetic-gray-147x37": _paper(
            "synthetic",
            "data/synthetic",
            (37, 147),
            1,
            "stereo",
            "Table 1's setting on the synthetic street set",
        ),
    }
    tiny = TrainConfig(
        model=ModelConfig("SCRX", ModelOptions(width=0.25)),
        data=DataConfig(
            source="synthetic", root="data/synthetic", size=(16, 48), channels=1, target="stereo"
        ),
        loss="mse",
        optim=OptimConfig("sgd", lr=MSE_LR, momentum=0.9),
        schedule=ScheduleConfig("cosine", warmup=0.05),
        batch_size=8,
        length=60,
        unit="steps",
        eval_every=20,
        log_every=5,
        val_max_batches=4,
        tb_images=2,
        out="runs/synthetic-tiny",
    )
    presets["synthetic-tiny"] = (tiny, "seconds on a CPU: SCRX at width 0.25, 16×48 gray, 60 steps")
    own = (
        ("recipe-synthetic-gray-147x37", "synthetic", "data/synthetic", "stereo", "the synthetic street set"),
        ("recipe-kitti-gray-147x37", "kitti-tracking", KITTI_ROOT, "stereo", "KITTI tracking stereo targets"),
        ("recipe-stereo-folder", "stereo-folder", "data/stereo", "stereo", "your own rectified stereo pairs"),
        ("recipe-rgbd-folder", "rgbd-folder", "data/rgbd", "depth", "your own RGB-D frames"),
    )
    for name, source, root, target, what in own:
        # The synthetic set renders at half KITTI width, where 96 px span KITTI's 192 (docs/data.md).
        max_disparity = 96 if source == "synthetic" else None
        data = DataConfig(
            source=source, root=root, size=(37, 147), channels=1, target=target, max_disparity=max_disparity
        )
        base = TrainConfig(
            model=ModelConfig("SCRX"),
            data=data,
            length=3000,
            eval_every=500,
            out="runs/train",
        )
        presets[name] = (
            apply_recipe(base),
            f"the ssrdepth recipe (masked SILog, AdamW, augmentation) on {what}",
        )
    return presets


#: The ssrdepth training recipe (docs/training.md, "The recipe"), measured on the synthetic street set
#: against exact depth and on real KITTI frames: the masked scale-invariant log loss (sparse targets
#: never teach where they are invalid; near and far weigh alike, as the relative depth measures do),
#: AdamW at 2e-3 with 5 % warm-up and a cosine decay, flips and strong photometric jitter, batch norm
#: after every hidden conv (the paper has none), and Xu's refinement with its skip.
RECIPE: dict[str, Any] = {
    "loss": "masked_silog",
    "optim.name": "adamw",
    "optim.lr": 2e-3,
    "optim.weight_decay": 1e-4,
    "schedule.name": "cosine",
    "schedule.warmup": 0.05,
    "schedule.final_lr_ratio": 0.02,
    "augment.hflip": 0.5,
    "augment.brightness": 0.4,
    "augment.contrast": 0.4,
    "augment.gamma": 0.4,
    "augment.colour": 0.1,
    "model.options.norm": "batch",
    "model.options.xu_skip": True,
}


def apply_recipe(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the ssrdepth recipe (:data:`RECIPE`) in place of the paper's training settings;
    data, model, length and everything else are kept."""
    return apply_overrides(cfg, RECIPE)


_PRESETS = _build_presets()


def list_presets() -> dict[str, str]:
    """Base preset names → one-line descriptions. Paper presets also take ``@steps``/``@epochs``."""
    return {name: desc for name, (_, desc) in _PRESETS.items()}


def get_preset(name: str) -> TrainConfig:
    """A preset by name, ``NAME`` or ``NAME@steps`` / ``NAME@epochs`` (the two readings of the paper's
    "1,000 iterations"; no suffix = ``@steps``). ValueError listing the valid names otherwise."""
    base, _, reading = name.strip().partition("@")
    if base not in _PRESETS:
        raise ValueError(
            f"unknown preset {name!r}; valid presets: {', '.join(_PRESETS)} "
            f"(paper presets also take a reading suffix: {', '.join('@' + r for r in READINGS)})"
        )
    if reading and reading not in READINGS:
        raise ValueError(
            f"unknown reading {reading!r} in preset {name!r}; valid readings: {', '.join(READINGS)}"
        )
    cfg = dataclasses.replace(_PRESETS[base][0], preset=name.strip())
    if reading == "epochs":
        # 1,000 passes over the training split; validate and checkpoint every 10 epochs.
        cfg = dataclasses.replace(cfg, unit="epochs", length=1000, eval_every=10, checkpoint_every=0)
    return cfg

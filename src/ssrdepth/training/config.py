"""The training configuration in one import: how a :class:`TrainConfig` is built, plus its schema and presets.

One :class:`TrainConfig` drives a run. It is built in three layers, each overriding the last:

1. a named preset (:func:`get_preset`, e.g. ``"kitti-gray-147x37@epochs"``), else the defaults;
2. a TOML file (:func:`load_config`; it may name its own base with a top-level ``preset = "..."``);
3. ``--set key=value`` overrides with dotted keys (``data.size=37,147``, ``model.name=SC``,
   ``optim.lr=1e-4``; :func:`apply_overrides`).

Every value is checked where it enters; a bad value raises ``ValueError`` naming the key and listing
the valid choices. The resolved configuration is written into the run folder (``config.json``,
``config.toml``) and into every checkpoint (:func:`config_to_dict`).

This module is the home of those layers (:func:`config_from_dict`, :func:`load_config`,
:func:`resolve_config`) and re-exports the rest, so ``from ssrdepth.training.config import X`` works
for every name: the schema lives in :mod:`ssrdepth.training.schema`, the presets and the recipe in
:mod:`ssrdepth.training.presets`, and the generic dataclass ↔ TOML / ``key=value`` engine that all
commands share in :mod:`ssrdepth.core.config_engine`.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ssrdepth.core import config_engine
from ssrdepth.training.presets import (
    KITTI_ROOT,
    NYU_ROOT,
    READINGS,
    RECIPE,
    apply_recipe,
    get_preset,
    list_presets,
)
from ssrdepth.training.schema import (
    BEST_METRICS,
    EXECUTION_FIELDS,
    MSE_LR,
    OPTIMIZERS,
    SCHEDULES,
    UNITS,
    ModelConfig,
    OptimConfig,
    ScheduleConfig,
    TrainConfig,
    apply_overrides,
    config_to_dict,
    paper_lr,
    parse_override,
    to_toml,
)

__all__ = [
    "BEST_METRICS",
    "EXECUTION_FIELDS",
    "KITTI_ROOT",
    "MSE_LR",
    "NYU_ROOT",
    "OPTIMIZERS",
    "READINGS",
    "RECIPE",
    "SCHEDULES",
    "UNITS",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "apply_overrides",
    "apply_recipe",
    "config_from_dict",
    "config_to_dict",
    "get_preset",
    "list_presets",
    "load_config",
    "paper_lr",
    "parse_override",
    "resolve_config",
    "to_toml",
]


def config_from_dict(d: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """A config from a nested dict (as written by :func:`config_to_dict` or read from TOML) on top of
    ``base`` (default: :class:`TrainConfig` defaults). Unknown keys and bad values raise ValueError."""
    changes = dict(d)
    preset = changes.pop("preset", None)
    if base is None:
        base = get_preset(preset) if preset else TrainConfig()
    cfg = config_engine.update(base, changes)
    if preset:
        cfg = dataclasses.replace(cfg, preset=str(preset))
    return typing.cast(TrainConfig, cfg)


def load_config(path: str | Path, base: TrainConfig | None = None) -> TrainConfig:
    """Read a TOML config file. A top-level ``preset = "NAME"`` picks the base unless ``base`` is given."""
    d = config_engine.read_toml(path)
    try:
        return config_from_dict(d, base)
    except ValueError as exc:
        raise ValueError(f"{Path(path)}: {exc}") from None


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

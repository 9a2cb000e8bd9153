"""The one home of the named training presets and the ssrdepth recipe.

A preset is a :class:`~ssrdepth.training.schema.TrainConfig` built in Python (:func:`get_preset`,
:func:`list_presets`): the paper's settings per table (``kitti-gray-147x37``, ``nyu-rgb-320x240``, …),
a seconds-long ``synthetic-tiny``, and the ``recipe-*`` presets, which carry the ssrdepth training
recipe (:data:`RECIPE`, :func:`apply_recipe`).

The paper's "1,000 iterations" is ambiguous (1,000 steps of batch 40 is only ~3 epochs of KITTI's
12,482 training pairs, yet training reportedly took two days), so every paper preset has two readings:
``NAME@steps`` (1,000 optimiser steps, the default when no suffix is given) and ``NAME@epochs``
(1,000 passes over the training split).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ssrdepth.data.config import SYNTHETIC_MAX_DISPARITY, DataConfig
from ssrdepth.models import ModelOptions
from ssrdepth.training.schema import (
    MSE_LR,
    ModelConfig,
    OptimConfig,
    ScheduleConfig,
    TrainConfig,
    apply_overrides,
)

#: Readings of the paper's "1,000 iterations" (preset suffixes).
READINGS = ("steps", "epochs")

#: Where the paper-preset data sets are expected by default (override with ``--set data.root=...``).
KITTI_ROOT = "data/kitti_tracking"
NYU_ROOT = "data/nyu"


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
    presets["synthetic-tiny"] = (tiny, "seconds on a CPU: SCRX at width 0.25, 48×16 gray, 60 steps")
    own = (
        ("recipe-synthetic-gray-147x37", "synthetic", "data/synthetic", "stereo", "the synthetic street set"),
        ("recipe-kitti-gray-147x37", "kitti-tracking", KITTI_ROOT, "stereo", "KITTI tracking stereo targets"),
        ("recipe-stereo-folder", "stereo-folder", "data/stereo", "stereo", "your own rectified stereo pairs"),
        ("recipe-rgbd-folder", "rgbd-folder", "data/rgbd", "depth", "your own RGB-D frames"),
    )
    for name, source, root, target, what in own:
        # Written out (the synthetic source's default, 96 px at half KITTI width), so that the runs'
        # stored configurations stay what they were.
        max_disparity = SYNTHETIC_MAX_DISPARITY if source == "synthetic" else None
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
        if target == "stereo":
            presets.update(_stereo_variants(name, presets[name][0], what))
    base_cfg, _ = presets["recipe-synthetic-gray-147x37"]
    presets["recipe-synthetic-gray-147x37-uncertainty"] = (
        apply_overrides(base_cfg, UNCERTAINTY),
        "the recipe on the synthetic street set with the trained uncertainty head (masked SILog + "
        "log-Laplacian likelihood)",
    )
    return presets


def _stereo_variants(name: str, recipe: TrainConfig, what: str) -> dict[str, tuple[TrainConfig, str]]:
    """``NAME-photometric`` (the pair teaches through the photometric loss, no matcher targets: nothing
    to ``prepare-targets``) and ``NAME-hybrid`` (Depth Hints: the matcher's targets where they
    reproject better) of a stereo recipe preset (:mod:`ssrdepth.training.photometric`)."""
    photometric = apply_overrides(recipe, {"loss": "photometric", "data.target": "none"})
    hybrid = apply_overrides(recipe, {"loss": "hybrid"})
    return {
        f"{name}-photometric": (
            photometric,
            f"the recipe with the photometric stereo loss (no targets, Monodepth2) on {what}",
        ),
        f"{name}-hybrid": (
            hybrid,
            f"the recipe with hybrid targets (photometric + matcher hints, Depth Hints) on {what}",
        ),
    }


#: The trained uncertainty beside the recipe (not in the paper): the model's second output channel
#: and the loss that trains it (:func:`ssrdepth.losses.masked_silog_laplace`).
UNCERTAINTY: dict[str, Any] = {"model.options.uncertainty": True, "loss": "masked_silog_laplace"}


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

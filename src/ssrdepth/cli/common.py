"""argparse options shared by several commands (not a command itself)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ssrdepth.core import config_engine
from ssrdepth.data.config import DEFAULT_MAX_DEPTH, SOURCES
from ssrdepth.experiments.reproduce import RECIPES, TABLE_IDS, TARGETS

#: The data-source options (``DataConfig`` field → help), in the order ``--help`` lists them.
SOURCE_OPTIONS = {
    "pattern": "stereo-folder: LEFT RIGHT file patterns with {name} (default left/{name}.png "
    "right/{name}.png); rgbd-folder: IMAGE DEPTH patterns",
    "focal": "stereo-folder: focal length (px at the images' width)",
    "baseline": "stereo-folder: stereo baseline (m)",
    "depth_scale": "rgbd-folder: depth-map value per metre (e.g. 256, 1000, 5000)",
    "depth_invalid": "rgbd-folder: depth-map value that means no measurement (default 0)",
    "nyu_depth": "nyu: 'filled' (colourised) or 'raw' (sensor) depth",
    "max_depth": "depth normalisation of depth and lidar targets (m; default per source: "
    + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_MAX_DEPTH.items())
    + ")",
    "matcher": "stereo targets: matching backend (default sgm); exact / lidar-like: the exact disparity, or its lidar-like sampling, of a set with exact depth (synthetic)",
    "max_disparity": "stereo targets: search range and normalisation maximum (px; default: 96 for synthetic, else the matcher's 192)",
    "cache_dir": "cache of derived data (default ROOT/.ssrdepth)",
}


C = TypeVar("C")


def add_config_arguments(p: argparse.ArgumentParser, config: type, example: str) -> None:
    """``--config FILE``, ``--option KEY=VALUE`` and ``--print-config``: the command's own configuration
    (the dataclass ``config``, e.g. ``DemoConfig``) from a TOML file and overrides of its fields, through
    the generic engine (:mod:`ssrdepth.core.config_engine`), as ``train`` reads a ``TrainConfig``.
    ``example``: a valid ``--option`` for the help. :func:`resolve_command_config` applies them."""
    name = config.__name__
    g = p.add_argument_group(f"the command's configuration ({name}; --print-config lists every key)")
    g.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"TOML file of {name} keys (e.g. as --print-config writes it); the other options go on top",
    )
    g.add_argument(
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set a {name} key (repeatable; applied last, after --config and the other options), "
        f"e.g. {example}",
    )
    g.add_argument(
        "--print-config", action="store_true", help="print the resolved configuration as TOML and exit"
    )


def resolve_command_config(
    base: C, args: argparse.Namespace, given: Callable[[C], Mapping[str, Any]], example: str
) -> C:
    """A command's configuration in layers, each overriding the last: ``base`` (what the command runs
    with no option, e.g. its ``--quick`` preset) → the ``--config`` TOML file → the command's other
    options that were given (``given(cfg)``: their field changes on the configuration so far) →
    ``--option KEY=VALUE`` (``example`` in its error message). Bad keys and values raise ValueError
    naming the file or option and the key."""
    cfg = base
    if args.config is not None:
        cfg = config_engine.load_toml(args.config, cfg)
    changes = dict(given(cfg))
    if changes:
        cfg = dataclasses.replace(cfg, **changes)  # type: ignore[type-var]
    return config_engine.apply_overrides(cfg, args.options, option="--option", example=example)


def print_config(cfg: Any) -> None:
    """The resolved configuration on stdout as TOML (``--print-config``)."""
    print(config_engine.dump_toml(cfg), end="")


def common_changes(args: argparse.Namespace, cfg: Any) -> dict[str, Any]:
    """The ``ReproduceConfig`` / ``DemoConfig`` field changes of the :func:`add_common_arguments` options
    that were given (``cfg``: the configuration so far; ``--set`` adds to its training overrides)."""
    changes: dict[str, Any] = {
        key: getattr(args, key)
        for key in (
            "device",
            "eval_max_images",
            "reading",
            "unit",
            "recipe",
            "seeds",
            "real_kitti",
            "fresh",
            "targets",
        )
        if getattr(args, key) is not None
    }
    if args.models:
        changes["models"] = tuple(args.models)
    if args.overrides:
        changes["overrides"] = cfg.overrides + tuple(args.overrides)
    if args.no_progress:
        changes["progress"] = False
    if args.no_baselines:
        changes["baselines"] = False
    if args.jobs is not None:
        changes["jobs"] = args.jobs
    return changes


def add_common_arguments(
    p: argparse.ArgumentParser,
    real_kitti_default: str = "none",
    length_help: str = "training length (overrides the preset)",
) -> None:
    """Options shared by ``reproduce`` and ``demo`` (``real_kitti_default``: what ``--help`` says the
    command evaluates on without ``--real-kitti``; ``length_help``: what ``--length`` replaces)."""
    p.add_argument("--models", nargs="+", default=None, help="Table 1's models (default: all six)")
    p.add_argument("--tables", nargs="+", default=None, choices=TABLE_IDS, help="tables to run")
    p.add_argument(
        "--reading",
        choices=("steps", "epochs"),
        default=None,
        help="reading of the paper's '1,000 iterations' (default steps)",
    )
    p.add_argument("--length", type=int, default=None, help=length_help)
    p.add_argument("--unit", choices=("steps", "epochs"), default=None, help="unit of --length")
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help="training settings: the paper's, or ssrdepth's (masked SILog, AdamW, augmentation); "
        "default: paper for reproduce, ssrdepth for demo",
    )
    p.add_argument("--no-baselines", action="store_true", help="leave out the constant and row-prior rows")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="training runs at a time, each in its own process with the cores shared out (CPU only; "
        "default 1; docs/training.md, 'Two runs at a time')",
    )
    p.add_argument(
        "--targets",
        choices=TARGETS,
        default=None,
        help="what teaches the stereo tables: the matcher's disparity (default, the paper), the photometric "
        "loss alone (no targets: nothing to prepare) or hybrid (the matcher's disparity as hints beside "
        "it; docs/stereo.md)",
    )
    add_run_arguments(
        p,
        seeds=1,
        length_option="--length",
        evaluated="Table 1's models",
        real_kitti_default=real_kitti_default,
    )


def add_run_arguments(
    p: argparse.ArgumentParser,
    seeds: int,
    *,
    length_option: str,
    evaluated: str,
    real_kitti_default: str,
) -> None:
    """Options of every command that trains and evaluates a grid of runs (``reproduce``, ``demo``,
    ``study``): device, evaluation size, overrides, seeds, real frames, resume, progress.

    The help names each command's own options and models: ``length_option`` (the option that changes
    the training length, e.g. ``--steps``), ``evaluated`` (the models ``--real-kitti`` evaluates) and
    ``real_kitti_default`` (where the command looks for real frames without ``--real-kitti``)."""
    # Defaults are None (= keep the configuration's value: cpu, and the seeds given here).
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    p.add_argument("--eval-max-images", type=int, default=None, help="evaluate on at most N test images")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training override applied to every run (repeatable), e.g. optim.lr=0.01",
    )
    p.add_argument(
        "--seeds", type=int, default=None, help=f"train every run with N seeds (mean ± std; default {seeds})"
    )
    p.add_argument(
        "--real-kitti",
        default=None,
        metavar="ROOT",
        help=f"KITTI object root with training/velodyne/: also evaluate {evaluated} on these real frames "
        f"(default: {real_kitti_default})",
    )
    p.add_argument(
        "--fresh",
        nargs="?",
        const="changed",
        default=None,
        choices=("changed", "all"),
        help=f"retrain the runs whose configuration changed (e.g. another {length_option}); '--fresh all' "
        "retrains every run (default: reuse finished runs, resume interrupted ones)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_source_arguments(
    p: argparse.ArgumentParser, required: bool = False, title: str = "data source"
) -> None:
    """The data source and every source's options (:data:`SOURCE_OPTIONS`), the one definition used
    by each command that takes a data source. Defaults are ``None`` (= keep the base configuration's
    value); :func:`source_changes` turns what was given into ``DataConfig`` field changes."""
    from ssrdepth.stereo.matching import METHODS, REFERENCES

    g = p.add_argument_group(title)
    g.add_argument("--source", required=required, default=None, choices=list(SOURCES), help="data source")
    g.add_argument("--root", required=required, default=None, help="data root folder (or the NYU .mat)")
    g.add_argument(
        "--pattern", nargs=2, metavar=("FIRST", "SECOND"), default=None, help=SOURCE_OPTIONS["pattern"]
    )
    g.add_argument("--focal", type=float, default=None, help=SOURCE_OPTIONS["focal"])
    g.add_argument("--baseline", type=float, default=None, help=SOURCE_OPTIONS["baseline"])
    g.add_argument("--depth-scale", type=float, default=None, help=SOURCE_OPTIONS["depth_scale"])
    g.add_argument("--depth-invalid", type=float, default=None, help=SOURCE_OPTIONS["depth_invalid"])
    g.add_argument("--nyu-depth", default=None, choices=("filled", "raw"), help=SOURCE_OPTIONS["nyu_depth"])
    g.add_argument("--max-depth", type=float, default=None, help=SOURCE_OPTIONS["max_depth"])
    g.add_argument("--matcher", default=None, choices=(*METHODS, *REFERENCES), help=SOURCE_OPTIONS["matcher"])
    g.add_argument("--max-disparity", type=int, default=None, help=SOURCE_OPTIONS["max_disparity"])
    g.add_argument("--cache-dir", default=None, help=SOURCE_OPTIONS["cache_dir"])
    g.add_argument("--skip-bad", action="store_true", help="leave out unreadable samples (listed at the end)")


def source_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The ``DataConfig`` field changes given on the command line by :func:`add_source_arguments`."""
    changes: dict[str, Any] = {
        key: getattr(args, key)
        for key in ("source", "root", *SOURCE_OPTIONS)
        if getattr(args, key) is not None
    }
    if "pattern" in changes:
        changes["pattern"] = tuple(changes["pattern"])
    if args.skip_bad:
        changes["skip_bad"] = True
    return changes


def source_overrides(args: argparse.Namespace) -> list[str]:
    """:func:`source_changes` as ``train``'s ``data.KEY=VALUE`` overrides."""
    out = []
    for key, value in source_changes(args).items():
        text = (
            json.dumps(list(value))
            if isinstance(value, tuple)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
        out.append(f"data.{key}={text}")
    return out

"""argparse options shared by several commands (not a command itself)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ssrdepth.data.config import DEFAULT_MAX_DEPTH, SOURCES
from ssrdepth.experiments.reproduce import RECIPES, TABLE_IDS
from ssrdepth.models import list_models

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
    "matcher": "stereo targets: matching backend (default sgm)",
    "max_disparity": "stereo targets: search range and normalisation maximum (px, default 192)",
    "cache_dir": "cache of derived data (default ROOT/.ssrdepth)",
}


def common_settings(args: argparse.Namespace, recipe: str) -> dict[str, Any]:
    """The ``ReproduceConfig`` / ``DemoConfig`` fields that :func:`add_common_arguments` sets
    (``recipe``: the command's default recipe)."""
    return {
        "models": tuple(args.models or list_models()),
        "device": args.device,
        "eval_max_images": args.eval_max_images,
        "reading": args.reading or "steps",
        "unit": args.unit,
        "overrides": tuple(args.overrides),
        "progress": not args.no_progress,
        "recipe": args.recipe or recipe,
        "seeds": args.seeds,
        "real_kitti": args.real_kitti,
        "baselines": not args.no_baselines,
        "fresh": args.fresh,
    }


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
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
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
        "--seeds", type=int, default=seeds, help=f"train every run with N seeds (mean ± std; default {seeds})"
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
    from ssrdepth.stereo.matching import METHODS

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
    g.add_argument("--matcher", default=None, choices=METHODS, help=SOURCE_OPTIONS["matcher"])
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

"""``ssrdepth demo``: the main job on the embedded synthetic data set."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ssrdepth.cli.common import add_common_arguments, common_settings
from ssrdepth.experiments.demo import (
    DEMO_BUDGET_S,
    DEMO_PAIRS,
    PLAN_FILE,
    REAL_KITTI_ENV,
    DemoConfig,
    demo,
    quick_demo_config,
)
from ssrdepth.experiments.report import format_duration


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (data/, runs/, report/)")
    p.add_argument(
        "--pairs", type=int, default=None, help=f"synthetic stereo pairs to render (default {DEMO_PAIRS})"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")
    p.add_argument("--full", action="store_true", help="the paper's widths and 1,000 steps (hours on CPU)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of every step in well under a minute (24 pairs, SC and SCRX, 4 steps of batch 4; "
        "the numbers are not a result); other options still apply",
    )
    add_common_arguments(
        p,
        real_kitti_default=f"${REAL_KITTI_ENV}, else ../shared/data/kitti_object where it exists",
        length_help=f"training length of every run (default: the steps per table that fit the "
        f"{DEMO_BUDGET_S // 60}-minute budget at this machine's measured speed, kept in OUT/{PLAN_FILE} "
        "for re-runs; --fresh all measures again)",
    )


def demo_config(args: argparse.Namespace) -> DemoConfig:
    """The :class:`DemoConfig` the command line asks for: ``--quick``'s preset (or the defaults), with
    every option given on top of it."""
    settings = common_settings(args, recipe="ssrdepth")
    if args.quick:
        base = quick_demo_config(args.out)
        # The quick preset's choices stay unless given on the command line; --set adds to its overrides.
        settings["overrides"] = base.overrides + settings["overrides"]
        if args.models is None:
            settings["models"] = base.models
        if args.eval_max_images is None:
            settings["eval_max_images"] = base.eval_max_images
    else:
        base = DemoConfig(out=args.out)
    cfg = dataclasses.replace(
        base,
        pairs=args.pairs if args.pairs is not None else base.pairs,
        seed=args.seed,
        full=args.full,
        tables=tuple(args.tables or base.tables),
        **settings,
    )
    if args.length is not None:
        cfg = dataclasses.replace(cfg, table_lengths=tuple((t, args.length) for t in cfg.tables))
    return cfg


def main(args: argparse.Namespace) -> int:
    cfg = demo_config(args)
    results = demo(cfg)
    print(
        f"report: {Path(cfg.out) / 'report' / 'report.md'} ({format_duration(results.get('demo_seconds', results['seconds']))})"
    )
    return 0

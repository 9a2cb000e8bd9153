"""``ssrdepth demo``: the main job on the embedded synthetic data set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ssrdepth.cli.common import (
    add_common_arguments,
    add_config_arguments,
    common_changes,
    print_config,
    resolve_command_config,
)
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

#: A valid ``--option`` (the help and error messages show it).
_EXAMPLE = 'pairs=200, models=SC,SCRX or table_lengths=[["1",30],["2",20]]'


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Defaults are None (= keep the configuration's value; DemoConfig's defaults are the ones listed).
    p.add_argument("--out", default=None, help="output folder (data/, runs/, report/)")
    p.add_argument(
        "--pairs", type=int, default=None, help=f"synthetic stereo pairs to render (default {DEMO_PAIRS})"
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the synthetic set")
    p.add_argument("--full", action="store_true", help="the paper's widths and 1,000 steps (hours on CPU)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of every step in about a minute (24 pairs, SC and SCRX, 4 steps of batch 4; "
        "the numbers are not a result); other options still apply",
    )
    add_common_arguments(
        p,
        real_kitti_default=f"${REAL_KITTI_ENV}, else ../shared/data/kitti_object where it exists",
        length_help=f"training length of every run (default: the steps per table that fit the "
        f"{DEMO_BUDGET_S // 60}-minute budget at this machine's measured speed, kept in OUT/{PLAN_FILE} "
        "for re-runs; --fresh all measures again)",
    )
    add_config_arguments(p, DemoConfig, _EXAMPLE)


def demo_config(args: argparse.Namespace) -> DemoConfig:
    """The :class:`DemoConfig` the command line asks for: ``--quick``'s preset (or the defaults), then
    the ``--config`` file, then every option given, then ``--option KEY=VALUE``."""
    base = quick_demo_config(DemoConfig().out) if args.quick else DemoConfig()

    def given(cfg: DemoConfig) -> dict[str, Any]:
        # --set adds to the configuration's training overrides (--quick's among them).
        changes = common_changes(args, cfg)
        for key in ("out", "pairs", "seed", "tables"):
            value = getattr(args, key)
            if value is not None:
                changes[key] = tuple(value) if key == "tables" else value
        if args.full:
            changes["full"] = True
        if args.length is not None:
            tables = changes.get("tables", cfg.tables)
            changes["table_lengths"] = tuple((t, args.length) for t in tables)
        return changes

    return resolve_command_config(base, args, given, _EXAMPLE)


def main(args: argparse.Namespace) -> int:
    cfg = demo_config(args)
    if args.print_config:
        print_config(cfg)
        return 0
    results = demo(cfg)
    print(
        f"report: {Path(cfg.out) / 'report' / 'report.md'} ({format_duration(results.get('demo_seconds', results['seconds']))})"
    )
    return 0

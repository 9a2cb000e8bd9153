"""``ssrdepth demo``: the main job on the embedded synthetic data set."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ssrdepth.cli.common import add_common_arguments, common_settings
from ssrdepth.experiments.demo import DEMO_PAIRS, DemoConfig, demo


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (data/, runs/, report/)")
    p.add_argument("--pairs", type=int, default=DEMO_PAIRS, help="synthetic stereo pairs to render")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")
    p.add_argument("--full", action="store_true", help="the paper's widths and 1,000 steps (hours on CPU)")
    add_common_arguments(p)


def main(args: argparse.Namespace) -> int:
    cfg = DemoConfig(
        out=args.out,
        pairs=args.pairs,
        seed=args.seed,
        full=args.full,
        tables=tuple(args.tables or ("1", "2")),
        **common_settings(args, recipe="ssrdepth"),
    )
    if args.length is not None:
        cfg = dataclasses.replace(cfg, table_lengths=tuple((t, args.length) for t in cfg.tables))
    results = demo(cfg)
    print(f"report: {Path(cfg.out) / 'report' / 'report.md'} ({results['seconds'] / 60:.1f} min)")
    return 0

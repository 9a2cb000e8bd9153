"""``ssrdepth demo``: the main job on the embedded synthetic data set."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ssrdepth.cli.common import add_common_arguments
from ssrdepth.experiments.demo import DEMO_PAIRS, DemoConfig, demo
from ssrdepth.models import list_models


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
        models=tuple(args.models or list_models()),
        tables=tuple(args.tables or ("1", "2")),
        device=args.device,
        eval_max_images=args.eval_max_images,
        reading=args.reading or "steps",
        unit=args.unit,
        overrides=tuple(args.overrides),
        progress=not args.no_progress,
        recipe=args.recipe or "ssrdepth",
        seeds=args.seeds,
        real_kitti=args.real_kitti,
        baselines=not args.no_baselines,
        fresh=args.fresh,
    )
    if args.length is not None:
        cfg = dataclasses.replace(cfg, table_lengths=tuple((t, args.length) for t in cfg.tables))
    results = demo(cfg)
    print(f"report: {Path(cfg.out) / 'report' / 'report.md'} ({results['seconds'] / 60:.1f} min)")
    return 0

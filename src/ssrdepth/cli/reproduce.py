"""``ssrdepth reproduce``: reproduce the paper's tables on KITTI / NYU."""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrdepth.cli.common import add_common_arguments, common_settings
from ssrdepth.experiments.report import format_duration
from ssrdepth.experiments.reproduce import TABLE_IDS, ReproduceConfig, reproduce


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kitti", default=None, help="KITTI stereo root (tracking layout by default)")
    p.add_argument(
        "--kitti-source",
        default="kitti-tracking",
        choices=("kitti-tracking", "kitti-raw", "kitti-object", "stereo-folder", "synthetic"),
    )
    p.add_argument("--nyu", default=None, help="folder with nyu_depth_v2_labeled.mat and splits.mat")
    p.add_argument("--out", default="runs/reproduce", help="output folder (runs/ and report/)")
    p.add_argument(
        "--matcher",
        default="sgm",
        choices=("elas", "sgm", "bm"),
        help="stereo matcher for KITTI targets (the paper: elas)",
    )
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier (1.0 = paper)")
    add_common_arguments(p, real_kitti_default="none: not evaluated on real frames")


def main(args: argparse.Namespace) -> int:
    cfg = ReproduceConfig(
        out=args.out,
        kitti=args.kitti,
        kitti_source=args.kitti_source,
        nyu=args.nyu,
        tables=tuple(args.tables or TABLE_IDS),
        length=args.length,
        width=args.width,
        matcher=args.matcher,
        **common_settings(args, recipe="paper"),
    )
    results = reproduce(cfg)
    print(f"report: {Path(cfg.out) / 'report' / 'report.md'} ({format_duration(results['seconds'])})")
    return 0

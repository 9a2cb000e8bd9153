"""``ssrdepth reproduce``: reproduce the paper's tables on KITTI / NYU."""

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
from ssrdepth.data.config import STREET_STEREO_SOURCES
from ssrdepth.experiments.report import format_duration
from ssrdepth.experiments.reproduce import ReproduceConfig, reproduce
from ssrdepth.stereo.matching import METHODS, REFERENCES

#: A valid ``--option`` (the help and error messages show it).
_EXAMPLE = 'table_lengths=[["1",300]], metric_protocol=kitti or figure_images=2'


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Defaults are None (= keep the configuration's value: kitti-tracking, runs/reproduce, sgm, 1.0).
    p.add_argument("--kitti", default=None, help="KITTI stereo root (tracking layout by default)")
    p.add_argument(
        "--kitti-source",
        default=None,
        choices=STREET_STEREO_SOURCES,
        help="layout of the --kitti root (default kitti-tracking, as in the paper; synthetic: ssrdepth "
        "generate's set)",
    )
    p.add_argument("--nyu", default=None, help="folder with nyu_depth_v2_labeled.mat and splits.mat")
    p.add_argument("--out", default=None, help="output folder (runs/ and report/)")
    p.add_argument(
        "--matcher",
        default=None,
        choices=(*METHODS, *REFERENCES),
        help="stereo matcher for KITTI targets (the paper: elas); exact / lidar-like: the synthetic set's "
        "exact disparity, or its lidar-like sampling",
    )
    p.add_argument("--width", type=float, default=None, help="channel width multiplier (1.0 = paper)")
    add_common_arguments(p, real_kitti_default="none: not evaluated on real frames")
    add_config_arguments(p, ReproduceConfig, _EXAMPLE)


def reproduce_config(args: argparse.Namespace) -> ReproduceConfig:
    """The :class:`ReproduceConfig` the command line asks for: the defaults, then the ``--config``
    file, then every option given, then ``--option KEY=VALUE``."""

    def given(cfg: ReproduceConfig) -> dict[str, Any]:
        changes = common_changes(args, cfg)
        for key in ("out", "kitti", "kitti_source", "nyu", "length", "width", "matcher", "tables"):
            value = getattr(args, key)
            if value is not None:
                changes[key] = tuple(value) if key == "tables" else value
        return changes

    return resolve_command_config(ReproduceConfig(), args, given, _EXAMPLE)


def main(args: argparse.Namespace) -> int:
    cfg = reproduce_config(args)
    if args.print_config:
        print_config(cfg)
        return 0
    results = reproduce(cfg)
    print(f"report: {Path(cfg.out) / 'report' / 'report.md'} ({format_duration(results['seconds'])})")
    return 0

"""``ssrdepth study matchers``: which stereo matcher should make the training targets, measured."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from ssrdepth.cli.common import add_run_arguments
from ssrdepth.experiments.demo import REAL_KITTI_ENV, default_real_kitti
from ssrdepth.experiments.report import format_duration
from ssrdepth.experiments.study_matchers import VARIANT_NAMES, StudyConfig, quick_config, study_matchers
from ssrdepth.experiments.study_report import advice_text

#: Where the study looks for the Middlebury Aloe pair: the environment variable, else
#: ``../shared/data/middlebury_aloe`` beside the working directory (the project's samples).
ALOE_ENV = "SSRDEPTH_MIDDLEBURY_ALOE"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="study", required=True, metavar="STUDY")
    m = sub.add_parser(
        "matchers",
        help="target quality, cost and trained accuracy of each stereo matcher",
        description="For each matcher variant (and the exact / lidar-like references): target quality "
        "against the exact synthetic disparity and real Middlebury pairs, pairs/s, and the accuracy of the "
        "same network trained on its targets (seeds: mean ± std). Writes report.md, targets.csv, "
        "trained.csv and d1_vs_delta1.png into --out; a rerun reuses what is finished.",
    )
    defaults = StudyConfig()
    m.add_argument("--out", default=defaults.out, help="output folder (default %(default)s)")
    m.add_argument(
        "--data", default=None, help="an existing synthetic set (default: render --pairs into OUT)"
    )
    m.add_argument(
        "--pairs", type=int, default=None, help=f"synthetic pairs to render (default {defaults.pairs})"
    )
    m.add_argument(
        "--variants", nargs="+", default=None, choices=VARIANT_NAMES, help="target kinds to measure"
    )
    m.add_argument("--train", nargs="+", default=None, choices=VARIANT_NAMES, help="target kinds to train on")
    m.add_argument(
        "--steps", type=int, default=None, help=f"training steps per run (default {defaults.steps})"
    )
    m.add_argument("--model", default=None, help=f"network (default {defaults.model})")
    m.add_argument("--width", type=float, default=None, help=f"channel width (default {defaults.width})")
    m.add_argument("--quality-pairs", type=int, default=None, help="pairs for target quality (default 100)")
    m.add_argument(
        "--aloe", default=None, help="Middlebury Aloe folder (default ../shared/data/middlebury_aloe)"
    )
    m.add_argument("--quick", action="store_true", help="a few seconds of everything (a smoke test)")
    add_run_arguments(
        m,
        seeds=defaults.seeds,
        length_option="--steps",
        evaluated="every trained model",
        real_kitti_default=f"${REAL_KITTI_ENV}, else ../shared/data/kitti_object where it exists",
    )


def _aloe() -> str:
    return os.environ.get(ALOE_ENV) or str(Path.cwd().parent / "shared" / "data" / "middlebury_aloe")


def main(args: argparse.Namespace) -> int:
    changes = {
        "data": args.data,
        "pairs": args.pairs,
        "variants": tuple(args.variants) if args.variants else None,
        "trained": tuple(args.train) if args.train else None,
        "steps": args.steps,
        "model": args.model,
        "width": args.width,
        "quality_pairs": args.quality_pairs,
        "eval_max_images": args.eval_max_images,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.variants and not args.train:  # train on the chosen kinds that train by default
        changes["trained"] = tuple(t for t in StudyConfig().trained if t in args.variants)
    common = {
        "out": args.out,
        "device": args.device,
        "seeds": args.seeds,
        "real_kitti": args.real_kitti or default_real_kitti(),
        "aloe": args.aloe or _aloe(),
        "fresh": args.fresh,
        "progress": not args.no_progress,
    }
    cfg = quick_config(**common) if args.quick else StudyConfig(**common)
    # --set adds to the preset's overrides (--quick trains with a small batch).
    cfg = dataclasses.replace(cfg, overrides=cfg.overrides + tuple(args.overrides), **changes)
    results = study_matchers(cfg)
    print(f"report: {Path(cfg.out) / 'report.md'} ({format_duration(results['seconds'])})")
    print(advice_text(results))
    return 0

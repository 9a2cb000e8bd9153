"""``ssrdepth study matchers``: which stereo matcher should make the training targets, measured."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ssrdepth.cli.common import add_config_arguments, add_run_arguments, print_config, resolve_command_config
from ssrdepth.experiments.demo import REAL_KITTI_ENV, default_real_kitti
from ssrdepth.experiments.report import format_duration
from ssrdepth.experiments.study_matchers import (
    MODES,
    TRAINABLE,
    VARIANT_NAMES,
    StudyConfig,
    quick_config,
    study_matchers,
)
from ssrdepth.experiments.study_report import advice_text

#: Where the study looks for the Middlebury Aloe pair: the environment variable, else
#: ``../shared/data/middlebury_aloe`` beside the working directory (the project's samples).
ALOE_ENV = "SSRDEPTH_MIDDLEBURY_ALOE"

#: A valid ``--option`` (the help and error messages show it).
_EXAMPLE = "cost_repeats=5, data_seed=1 or variants=exact,sgm"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="study", required=True, metavar="STUDY")
    m = sub.add_parser(
        "matchers",
        help="target quality, cost and trained accuracy of each stereo matcher",
        description="For each matcher variant (and the exact / lidar-like references): target quality "
        "against the exact synthetic disparity and real Middlebury pairs, pairs/s, and the accuracy of the "
        "same network trained on its targets (seeds: mean ± std), beside the same network trained "
        "photometrically and hybrid (crop, whole image, sky / road / occlusion boundaries, s/step). Writes report.md, targets.csv, "
        "trained.csv and d1_vs_delta1.png into --out; a rerun reuses what is finished.",
    )
    defaults = StudyConfig()
    # Defaults are None (= keep the configuration's value; StudyConfig's defaults are the ones listed).
    m.add_argument("--out", default=None, help=f"output folder (default {defaults.out})")
    m.add_argument(
        "--data", default=None, help="an existing synthetic set (default: render --pairs into OUT)"
    )
    m.add_argument(
        "--pairs", type=int, default=None, help=f"synthetic pairs to render (default {defaults.pairs})"
    )
    m.add_argument(
        "--variants", nargs="+", default=None, choices=VARIANT_NAMES, help="target kinds to measure"
    )
    m.add_argument(
        "--train",
        nargs="+",
        default=None,
        choices=TRAINABLE,
        help="target kinds to train on, and the modes without a matcher's targets: photometric, hybrid "
        "(sgm hints)",
    )
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
    add_config_arguments(m, StudyConfig, _EXAMPLE)


def _aloe() -> str:
    return os.environ.get(ALOE_ENV) or str(Path.cwd().parent / "shared" / "data" / "middlebury_aloe")


def study_config(args: argparse.Namespace) -> StudyConfig:
    """The :class:`StudyConfig` the command line asks for: ``--quick``'s preset (or the defaults) with
    the real frames and the Aloe pair where they are found, then the ``--config`` file, then every
    option given, then ``--option KEY=VALUE``."""
    real_kitti, aloe = default_real_kitti(), _aloe()
    if args.quick:
        base = quick_config(StudyConfig().out, real_kitti=real_kitti, aloe=aloe)
    else:
        base = StudyConfig(real_kitti=real_kitti, aloe=aloe)

    def given(cfg: StudyConfig) -> dict[str, Any]:
        changes = {
            "out": args.out,
            "data": args.data,
            "pairs": args.pairs,
            "variants": tuple(args.variants) if args.variants else None,
            "trained": tuple(args.train) if args.train else None,
            "steps": args.steps,
            "model": args.model,
            "width": args.width,
            "quality_pairs": args.quality_pairs,
            "eval_max_images": args.eval_max_images,
            "device": args.device,
            "seeds": args.seeds,
            "real_kitti": args.real_kitti,
            "aloe": args.aloe,
            "fresh": args.fresh,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        if args.variants and not args.train:  # train on the chosen kinds that train by default
            changes["trained"] = tuple(t for t in StudyConfig().trained if t in (*args.variants, *MODES))
        if args.no_progress:
            changes["progress"] = False
        # --set adds to the configuration's training overrides (--quick trains with a small batch).
        changes["overrides"] = cfg.overrides + tuple(args.overrides)
        return changes

    return resolve_command_config(base, args, given, _EXAMPLE)


def main(args: argparse.Namespace) -> int:
    cfg = study_config(args)
    if args.print_config:
        print_config(cfg)
        return 0
    results = study_matchers(cfg)
    print(f"report: {Path(cfg.out) / 'report.md'} ({format_duration(results['seconds'])})")
    print(advice_text(results))
    return 0

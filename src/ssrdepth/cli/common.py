"""argparse options shared by several commands (not a command itself)."""

from __future__ import annotations

import argparse

from ssrdepth.experiments.reproduce import RECIPES, TABLE_IDS


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``reproduce`` and ``demo``."""
    p.add_argument("--models", nargs="+", default=None, help="Table 1's models (default: all six)")
    p.add_argument("--tables", nargs="+", default=None, choices=TABLE_IDS, help="tables to run")
    p.add_argument(
        "--reading",
        choices=("steps", "epochs"),
        default=None,
        help="reading of the paper's '1,000 iterations' (default steps)",
    )
    p.add_argument("--length", type=int, default=None, help="training length (overrides the preset)")
    p.add_argument("--unit", choices=("steps", "epochs"), default=None, help="unit of --length")
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
        "--recipe",
        choices=RECIPES,
        default=None,
        help="training settings: the paper's, or ssrdepth's (masked SILog, AdamW, augmentation); "
        "default: paper for reproduce, ssrdepth for demo",
    )
    p.add_argument("--seeds", type=int, default=1, help="train every run with N seeds (mean ± std)")
    p.add_argument(
        "--real-kitti",
        default=None,
        metavar="ROOT",
        help="KITTI object root with velodyne/: also evaluate Table 1's models on these real frames",
    )
    p.add_argument("--no-baselines", action="store_true", help="leave out the constant and row-prior rows")
    p.add_argument(
        "--fresh",
        nargs="?",
        const="changed",
        default=None,
        choices=("changed", "all"),
        help="retrain the runs whose configuration changed (e.g. another --length); '--fresh all' "
        "retrains every run (default: reuse finished runs, resume interrupted ones)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

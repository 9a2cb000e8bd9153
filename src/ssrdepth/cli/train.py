"""``ssrdepth train``: train a model in a single stage."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ssrdepth.cli.common import add_source_arguments, source_overrides
from ssrdepth.training.config import (
    BEST_METRICS,
    config_to_dict,
    list_presets,
    resolve_config,
    to_toml,
)
from ssrdepth.training.loop import DivergedError, train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "presets: "
        + ", ".join(list_presets())
        + "\n  (paper presets take @steps or @epochs: the two readings of the paper's '1,000 iterations')\n"
        "examples:\n"
        "  ssrdepth generate --out data/synthetic --pairs 30   # stereo sources need their targets first:\n"
        "  ssrdepth prepare-targets --source synthetic --root data/synthetic\n"
        "  ssrdepth train --preset synthetic-tiny --set data.root=data/synthetic --out runs/tiny\n"
        "  ssrdepth train --preset kitti-gray-147x37@epochs --set model.name=SC --set data.root=/data/kitti\n"
        "  ssrdepth train --config my.toml --set optim.lr=0.01 --set data.size=94,310\n"
        "  torchrun --nproc-per-node 4 -m ssrdepth train --preset nyu-rgb-320x240 --device cuda\n"
        "see docs/training.md"
    )
    parser.add_argument("--preset", help="named preset (see below); default: the built-in defaults")
    parser.add_argument("--config", type=Path, help="TOML config file (may name its own preset)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. optim.lr=0.01, data.size=37,147 (or 147x37 = W×H), model.name=SC",
    )
    parser.add_argument("--model", help="shortcut for --set model.name=NAME")
    parser.add_argument("--out", help="shortcut for --set out=DIR (the run folder)")
    parser.add_argument("--device", help="shortcut for --set device=DEV (cpu, cuda, cuda:N, auto)")
    parser.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="fine-tune: start from the weights of CHECKPOINT (a .pt file or run folder; the same network, "
        "input channels and width) with a new optimiser and schedule (shortcut for --set init_from=...)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CHECKPOINT",
        help="resume the run in --out from latest.pt (or from CHECKPOINT: a .pt file, or a run folder's "
        "latest.pt); by default an interrupted "
        "run with the same config is resumed and a finished one is reused",
    )
    group.add_argument("--fresh", action="store_true", help="start over, removing the run's files in --out")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config as TOML and exit"
    )
    parser.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    add_source_arguments(parser, title="data source (shortcuts for --set data.KEY=VALUE)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    if args.list_presets:
        presets = list_presets()
        width = max(map(len, presets)) + 2  # the descriptions line up after the longest name
        for name, desc in presets.items():
            print(f"{name:<{width}}{desc}")
        return 0
    overrides = list(args.overrides)
    for key in ("model", "out", "device", "init_from"):
        if getattr(args, key):
            overrides.append(f"{'model.name' if key == 'model' else key}={getattr(args, key)}")
    overrides += source_overrides(args)
    if args.no_progress:
        overrides.append("progress=false")
    cfg = resolve_config(args.preset, args.config, overrides)
    if args.print_config:
        print(to_toml(config_to_dict(cfg)), end="")
        return 0
    resume: bool | Path | None = False if args.fresh else args.resume
    if isinstance(resume, str):
        resume = Path(resume)
    try:
        result = train(cfg, resume=resume)
    except DivergedError as exc:
        print(f"ssrdepth train: stopped: {exc}", file=sys.stderr)
        return 3
    if int(os.environ.get("RANK", "0")) == 0:
        if result.skipped:
            print(f"{result.run_dir}: finished run with the same configuration found; nothing to do")
        last_val = result.history["val"][-1] if result.history["val"] else {}
        summary = ", ".join(f"{k} {v:.4f}" for k, v in last_val.items() if k in BEST_METRICS)
        print(
            f"{result.steps} steps in {result.seconds:.1f} s ({result.images_per_second:.1f} img/s)"
            + (f"; {summary}" if summary else "")
        )
        print(f"best: {result.best_checkpoint}  latest: {result.latest_checkpoint}")
    return 0

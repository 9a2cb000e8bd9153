"""``ssrdepth models``: list the networks: parameters, output stride, GFLOPs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ssrdepth.core.sizes import parse_size
from ssrdepth.experiments.model_table import STRIDE_TEXT, format_markdown, model_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = STRIDE_TEXT
    p.add_argument(
        "--size",
        action="append",
        default=None,
        metavar="WxH",
        help="input size, width×height as in the paper (repeatable; default 147x37)",
    )
    p.add_argument("--channels", choices=("gray", "rgb"), default="gray", help="input channels")
    p.add_argument("--models", nargs="+", default=None, help="subset of models (default: all)")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")


def main(args: argparse.Namespace) -> int:
    sizes = [parse_size(s) for s in (args.size or ["147x37"])]
    rows = model_table(sizes, 1 if args.channels == "gray" else 3, args.models, width=args.width)
    if args.format == "json":
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(format_markdown(rows), end="")
    return 0

"""``ssrdepth evaluate``: evaluate checkpoints or models with a named protocol."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from ssrdepth.checkpoint import resolve_checkpoint
from ssrdepth.cli.common import add_source_arguments, source_changes
from ssrdepth.core.sizes import parse_size
from ssrdepth.data.config import TARGETS, DataConfig
from ssrdepth.evaluation.evaluate import CONFIDENCE_METHODS, data_config_from_checkpoint, evaluate
from ssrdepth.evaluation.protocols import PROTOCOLS, SCORE_AT, get_protocol


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "models",
        nargs="*",
        help="checkpoint files, run folders (their best.pt, else latest.pt) or registry model names "
        "(untrained: smoke runs)",
    )
    p.add_argument(
        "--protocol",
        default="paper",
        choices=list(PROTOCOLS),
        help="evaluation protocol (default paper; --list-protocols describes them)",
    )
    p.add_argument("--list-protocols", action="store_true", help="print the protocols and exit")
    p.add_argument("--split", default="test", help="data split (default test)")
    p.add_argument(
        "--out",
        default="runs/evaluate",
        help="output folder for the .md/.csv/.json table (default %(default)s)",
    )
    add_source_arguments(
        p,
        title="data (default: the data configuration stored in the first checkpoint, else the synthetic set)",
    )
    g = p.add_argument_group("model input and target")
    g.add_argument("--size", default=None, metavar="WxH", help="size, width×height (e.g. 147x37)")
    g.add_argument("--channels", choices=("gray", "rgb"), default=None, help="input channels")
    g.add_argument("--target", default=None, choices=list(TARGETS), help="target kind")
    o = p.add_argument_group("protocol overrides (the protocol's name records them)")
    o.add_argument("--crop", default=None, choices=("none", "garg", "eigen", "nyu-eigen"))
    o.add_argument(
        "--scaling", default=None, choices=("none", "median", "least-squares", "least-squares-shift")
    )
    o.add_argument("--aggregation", default=None, choices=("per-image", "pooled"))
    o.add_argument(
        "--score-at",
        default=None,
        choices=SCORE_AT,
        help="truth: at the ground truth's resolution, the prediction upsampled bilinearly (the KITTI/Eigen "
        "convention; default of the metric protocols); model: at the model's size, the truth resized to "
        "it (the only choice of paper/normalised)",
    )
    p.add_argument(
        "--confidence",
        default=None,
        choices=CONFIDENCE_METHODS,
        help="also score an uncertainty map by sparsification (AUSE, AURG of AbsRel and RMSE; curves in "
        "the JSON): head = the trained uncertainty output (a model trained with model.uncertainty), "
        "flip = disagreement with the mirrored image (a second pass)",
    )
    p.add_argument(
        "--flicker",
        action="store_true",
        help="also measure how steady the predictions are over each sequence (scale and error flicker; "
        "a sequence source: synthetic, kitti-tracking, kitti-raw)",
    )
    p.add_argument(
        "--stabilise",
        type=float,
        default=None,
        metavar="STRENGTH",
        help="stabilise each sequence's predictions online first (0 ≤ strength < 1; 0.95 is the "
        "measured default) — to measure what stabilisation does to accuracy and flicker",
    )
    r = p.add_argument_group("run")
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images")
    r.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, …")
    r.add_argument("--width", type=float, default=None, help="width multiplier of untrained registry models")
    r.add_argument("--seed", type=int, default=0, help="seed of untrained registry models")
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _data_config(args: argparse.Namespace) -> DataConfig:
    from ssrdepth.pretrained import bundled_checkpoint, is_bundled

    files = [bundled_checkpoint() if is_bundled(m) else Path(m) for m in args.models]
    base = next((data_config_from_checkpoint(f) for f in files if f.exists()), DataConfig())
    changes: dict[str, Any] = source_changes(args)
    if args.target is not None:
        changes["target"] = args.target
    if args.source is not None and args.root is None and args.source != base.source:
        changes["root"] = DataConfig().root if args.source == "synthetic" else base.root
    if args.size:
        changes["size"] = parse_size(args.size)
    if args.channels:
        changes["channels"] = {"gray": 1, "rgb": 3}[args.channels]
    return replace(base, **changes)


def main(args: argparse.Namespace) -> int:
    if args.list_protocols:
        for proto in PROTOCOLS.values():
            print(f"{proto.name:<12} {proto.description}; scored {proto.scored_at}")
        return 0
    if not args.models:
        raise ValueError("no model given: pass checkpoint files or model names (see --help)")
    # Run folders → their checkpoint files, resolved (and named in the log) once.
    args.models = [str(resolve_checkpoint(m)) if Path(m).is_dir() else m for m in args.models]
    data = _data_config(args)
    proto = get_protocol(
        args.protocol,
        crop=args.crop,
        scaling=args.scaling,
        aggregation=args.aggregation,
        score_at=args.score_at,
    )
    report = evaluate(
        args.models,
        data,
        proto,
        split=args.split,
        out_dir=args.out,
        batch_size=args.batch_size,
        max_images=args.max_images,
        device=args.device,
        model_options=None if args.width is None else {"width": args.width},
        seed=args.seed,
        progress=not args.quiet,
        confidence=args.confidence,
        flicker=args.flicker,
        stabilise=args.stabilise,
    )
    print(report.markdown, end="")
    for r in report.results:
        print(r.describe())
    print("wrote " + ", ".join(str(p) for p in report.files.values()))
    return 0

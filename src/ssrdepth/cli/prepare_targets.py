"""``ssrdepth prepare-targets``: stereo-match a data set into cached disparity targets."""

from __future__ import annotations

import argparse

from ssrdepth.data.targets import prepare_targets
from ssrdepth.stereo.cache import TargetCache
from ssrdepth.stereo.matching import METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        required=True,
        help="stereo data source: synthetic, kitti-tracking, kitti-raw, kitti-object, stereo-folder",
    )
    parser.add_argument("--root", required=True, help="data set root folder")
    parser.add_argument("--matcher", default="sgm", choices=METHODS, help="stereo backend (default: sgm)")
    parser.add_argument(
        "--max-disparity",
        type=int,
        default=None,
        help="search range in px at the images' size, also the normalisation maximum (default: 192)",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--cache-dir", default=None, help="cache root (default: ROOT/.ssrdepth)")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable pairs instead of stopping")
    parser.add_argument(
        "--pattern",
        nargs=2,
        metavar=("LEFT", "RIGHT"),
        default=None,
        help="stereo-folder: left/right file patterns with {name} (default: left/{name}.png right/{name}.png)",
    )
    parser.add_argument("--focal", type=float, default=None, help="stereo-folder: focal length (px)")
    parser.add_argument("--baseline", type=float, default=None, help="stereo-folder: baseline (m)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    # Imported here: the data package pulls in torch and every source.
    from ssrdepth.data import list_stereo_pairs
    from ssrdepth.data.config import DataConfig

    cfg = DataConfig(
        source=args.source,
        root=args.root,
        matcher=args.matcher,
        max_disparity=args.max_disparity,
        cache_dir=args.cache_dir,
        skip_bad=args.skip_bad,
        pattern=tuple(args.pattern) if args.pattern else None,
        focal=args.focal,
        baseline=args.baseline,
    )
    cache = TargetCache.for_config(cfg)
    pairs = list_stereo_pairs(cfg)
    if not pairs:
        raise ValueError(f"no stereo pairs found for source {args.source!r} under {args.root}")
    summary = prepare_targets(
        pairs, cache, workers=args.workers, progress=not args.no_progress, skip_bad=args.skip_bad
    )
    print(
        f"{summary.computed} computed, {summary.skipped} already cached, {len(summary.failed)} failed "
        f"of {summary.total} pairs in {summary.seconds:.1f} s → {summary.directory}"
    )
    for line in summary.failed:
        print(f"  failed: {line}")
    return 0

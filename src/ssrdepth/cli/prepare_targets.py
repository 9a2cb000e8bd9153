"""``ssrdepth prepare-targets``: stereo-match a data set into cached disparity targets."""

from __future__ import annotations

import argparse

from ssrdepth.cli.common import add_source_arguments, source_changes
from ssrdepth.core.io import write_hint
from ssrdepth.data.targets import CACHE_DIR_HINT, prepare_targets
from ssrdepth.stereo.cache import TargetCache
from ssrdepth.stereo.matching import REFERENCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(
        parser, required=True, title="data source (stereo: synthetic, kitti-*, stereo-folder)"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    # Imported here: the data package pulls in torch and every source.
    from ssrdepth.data import list_stereo_pairs
    from ssrdepth.data.config import DataConfig

    cfg = DataConfig(**source_changes(args))
    if cfg.matcher in REFERENCES:  # exact / lidar-like: from the exact depth, nothing is matched
        from ssrdepth.data.reference import prepare_reference_targets

        done = prepare_reference_targets(cfg, progress=not args.no_progress)
        print(
            f"{done['computed']} computed, {done['skipped']} already cached of {done['total']} frames in "
            f"{done['seconds']:.1f} s → {done['directory']}"
        )
        return 0
    cache = TargetCache.for_config(cfg)
    pairs = list_stereo_pairs(cfg)
    if not pairs:
        raise ValueError(f"no stereo pairs found for source {args.source!r} under {args.root}")
    with write_hint(CACHE_DIR_HINT, cache.directory):
        summary = prepare_targets(
            pairs, cache, workers=args.workers, progress=not args.no_progress, skip_bad=args.skip_bad
        )
    stale = f" ({summary.stale} replacing targets of changed images)" if summary.stale else ""
    print(
        f"{summary.computed} computed{stale}, {summary.skipped} already cached, {len(summary.failed)} "
        f"failed of {summary.total} pairs in {summary.seconds:.1f} s → {summary.directory}"
    )
    for line in summary.failed:
        print(f"  failed: {line}")
    return 0

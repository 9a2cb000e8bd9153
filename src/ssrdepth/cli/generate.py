"""``ssrdepth generate``: render the synthetic stereo street data set (KITTI tracking layout).

Python API: :func:`generate` (= :func:`ssrdepth.data.synthetic.generate_synthetic`). The folder it
writes is read with ``DataConfig(source="synthetic", root=OUT)``; see docs/data.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ssrdepth.core.sizes import parse_size
from ssrdepth.data.synthetic import DEFAULT_SIZE, SyntheticSettings, generate_synthetic


def generate(
    out: str | os.PathLike[str],
    n_pairs: int = 3000,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    sequence_length: int = 50,
    workers: int | None = None,
    progress: bool = True,
) -> SyntheticSettings:
    """Render ``n_pairs`` stereo pairs with exact depth into ``out``; ``size`` is (H, W).

    Deterministic in ``seed``; re-running resumes an interrupted render; a folder rendered with
    other settings is refused (ValueError).
    """
    return generate_synthetic(out, n_pairs, seed, size, sequence_length, workers, progress)


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text, example="621x188")
    except ValueError as exc:  # argparse shows an ArgumentTypeError's message as is
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (KITTI tracking layout)")
    parser.add_argument("--pairs", type=int, default=3000, help="number of stereo pairs (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        help=f"WIDTHxHEIGHT (default {DEFAULT_SIZE[1]}x{DEFAULT_SIZE[0]}, half KITTI; 1242x375 = full)",
    )
    parser.add_argument("--sequence-length", type=int, default=50, help="frames per street (default 50)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores, ≤ 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    settings = generate(
        Path(args.out),
        args.pairs,
        args.seed,
        args.size,
        args.sequence_length,
        args.workers,
        progress=not args.no_progress,
    )
    print(
        f"{settings.n_pairs} pairs ({settings.width}×{settings.height}, {len(settings.sequences())} sequence(s), "
        f"seed {settings.seed}) in {args.out} after {time.perf_counter() - start:.1f} s"
    )
    return 0

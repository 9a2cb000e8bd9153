"""``ssrdepth generate``: render the synthetic stereo street data set (KITTI tracking layout).

Python API: :func:`generate` (= :func:`ssrdepth.data.synthetic.generate_synthetic`). The folder it
writes is read with ``DataConfig(source="synthetic", root=OUT)``; see docs/data.md.

``--compare REAL_DIR``: after rendering (or reusing a complete render), the domain gap between the
left images and the photos in REAL_DIR (:func:`ssrdepth.data.image_stats.compare_folders`), printed
as a table and written to ``OUT/domain_gap.json``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from ssrdepth.core.io import write_json
from ssrdepth.core.sizes import parse_size
from ssrdepth.data.image_stats import compare_folders, list_images
from ssrdepth.data.synthetic import DEFAULT_SIZE, LAYOUTS, Features, SyntheticSettings, generate_synthetic


def generate(
    out: str | os.PathLike[str],
    n_pairs: int = 3000,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    sequence_length: int = 50,
    workers: int | None = None,
    progress: bool = True,
    features: Features | None = None,
    focal_scale: float = 1.0,
) -> SyntheticSettings:
    """Render ``n_pairs`` stereo pairs with exact depth into ``out``; ``size`` is (H, W); ``features``
    switches parts of the generator off (default: all on; :class:`~ssrdepth.data.synthetic.Features`);
    ``focal_scale`` × KITTI's focal length: a set seen by another camera.

    Deterministic in ``seed``; re-running resumes an interrupted render; a folder rendered with
    other settings is refused (ValueError).
    """
    return generate_synthetic(
        out, n_pairs, seed, size, sequence_length, workers, progress, features, focal_scale
    )


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
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="streets",
        help="street composer: streets (residential/city/open, the default) or classic (version 2's)",
    )
    parser.add_argument(
        "--no-shadows", action="store_true", help="no cast shadows, sky occlusion or highlights"
    )
    parser.add_argument("--no-photos", action="store_true", help="procedural textures only (no CC0 photos)")
    parser.add_argument(
        "--no-camera-effects",
        action="store_true",
        help="no over-exposed sky, vignetting, JPEG or per-frame exposure",
    )
    parser.add_argument(
        "--focal-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="the camera's focal length × KITTI's (e.g. 0.7 or 1.4: a set seen by another camera; default 1)",
    )
    parser.add_argument(
        "--compare",
        metavar="REAL_DIR",
        default=None,
        help="also measure the domain gap between the left images and the photos in REAL_DIR "
        "(png/jpg, recursive; e.g. a KITTI object root): a table, and OUT/domain_gap.json",
    )
    parser.add_argument(
        "--compare-max-images",
        type=int,
        default=200,
        metavar="N",
        help="--compare: at most N images per side, evenly spaced (default 200)",
    )


#: domain_gap key → what its number is, for the table
_GAP_UNITS = {
    "colour_histogram": "Jensen–Shannon distance, mean of R, G, B (0–1)",
    "colour_moments": "mean |diff| of channel means and stds (0–1)",
    "gray_histogram": "Jensen–Shannon distance (0–1)",
    "gradient_histogram": "Jensen–Shannon distance (0–1)",
    "power_spectrum": "RMS diff of band log10 powers (decades)",
    "edge_density": "L1 of the 8 row-band edge fractions",
    "total": "mean of the 3 histograms, power_spectrum/(1+power_spectrum), min(edge_density, 1)",
}


def _gap_table(result: dict[str, Any]) -> str:
    n = result["n_images"]
    h, w = result["definitions"]["analysis_size"]
    lines = [f"domain gap, {n['synthetic']} synthetic vs {n['real']} real images at {w}×{h} (0 = same):"]
    lines += [
        f"  {key:<19} {value:7.4f}  {_GAP_UNITS.get(key, '')}" for key, value in result["distances"].items()
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.compare_max_images < 1:
        raise ValueError(f"--compare-max-images must be at least 1, got {args.compare_max_images}")
    # The photos are listed before rendering, so that a wrong REAL_DIR fails at once.
    real = list_images(args.compare) if args.compare is not None else None
    settings = generate(
        Path(args.out),
        args.pairs,
        args.seed,
        args.size,
        args.sequence_length,
        args.workers,
        progress=not args.no_progress,
        features=Features(
            layout=args.layout,
            shadows=not args.no_shadows,
            photos=not args.no_photos,
            camera=not args.no_camera_effects,
        ),
        focal_scale=args.focal_scale,
    )
    print(
        f"{settings.n_pairs} pairs ({settings.width}×{settings.height}, {len(settings.sequences())} sequence(s), "
        f"seed {settings.seed}) in {args.out} after {time.perf_counter() - start:.1f} s"
    )
    if real is not None:
        left = list_images(Path(args.out) / "training" / "image_02")
        result = compare_folders(left, real, args.compare_max_images)
        result["synthetic_root"], result["real_dir"] = str(args.out), str(args.compare)
        write_json(Path(args.out) / "domain_gap.json", result)
        print(_gap_table(result))
        print(f"wrote {Path(args.out) / 'domain_gap.json'}")
    return 0

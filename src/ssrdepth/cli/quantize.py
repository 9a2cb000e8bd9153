"""``ssrdepth quantize``: INT8 ONNX export of a checkpoint, calibrated on its training images and
refused when δ < 1.25 on its test split falls more than the tolerance below float32."""

from __future__ import annotations

import argparse

from ssrdepth.inference.quantize import DELTA1_TOLERANCE, quantize_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="checkpoint written by 'ssrdepth train', or its run folder (best.pt, else latest.pt)",
    )
    p.add_argument("--out", default=None, help="INT8 ONNX file (default: CHECKPOINT.int8.onnx)")
    p.add_argument("--calibration-images", type=int, default=200, help="training images for calibration")
    p.add_argument("--test-images", type=int, default=None, help="test images for the check (default: all)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=DELTA1_TOLERANCE,
        help="largest allowed drop of δ<1.25 (fraction of pixels) from float32 to INT8",
    )
    p.add_argument("--threads", type=int, default=None)


def main(args: argparse.Namespace) -> int:
    from ssrdepth.checkpoint import resolve_checkpoint
    from ssrdepth.evaluation.evaluate import data_config_from_checkpoint

    checkpoint = resolve_checkpoint(args.checkpoint)  # a run folder → its file, named once in the log
    path, acc = quantize_checkpoint(
        checkpoint,
        data_config_from_checkpoint(checkpoint),
        args.out,
        calibration_images=args.calibration_images,
        test_images=args.test_images,
        tolerance=args.tolerance,
        threads=args.threads,
    )
    print(
        f"wrote {path}: δ<1.25 {acc.int8_delta1:.4f} INT8 vs {acc.fp32_delta1:.4f} float32 "
        f"(drop {acc.drop:.4f} ≤ {acc.tolerance}) on {acc.images} test images"
    )
    return 0

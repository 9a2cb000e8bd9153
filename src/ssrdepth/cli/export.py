"""``ssrdepth export``: export a checkpoint to ONNX / TorchScript."""

from __future__ import annotations

import argparse

from ssrdepth.inference.export import EXPORTERS, FORMATS, TOLERANCE, export_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        help="checkpoint written by 'ssrdepth train', or its run folder (best.pt, else latest.pt)",
    )
    p.add_argument("--format", choices=tuple(FORMATS), default="onnx")
    p.add_argument("--out", default=None, help="artefact path (default: beside the checkpoint)")
    p.add_argument(
        "--exporter", choices=EXPORTERS, default="dynamo", help="ONNX exporter (see docs/deploy.md)"
    )
    p.add_argument(
        "--size", default=None, metavar="WxH", help="example size for export (default: the checkpoint's)"
    )
    p.add_argument("--check-images", nargs="*", default=(), help="real images for the parity check")
    p.add_argument(
        "--tolerance", type=float, default=TOLERANCE, help="max abs error allowed vs eager PyTorch"
    )
    p.add_argument("--no-check", action="store_true", help="skip the parity check")
    p.add_argument("--json", default=None, help="also write the result (parity numbers) to this JSON file")


def main(args: argparse.Namespace) -> int:
    from ssrdepth.core.io import write_json
    from ssrdepth.core.sizes import parse_size

    result = export_checkpoint(
        args.checkpoint,
        args.out,
        args.format,
        exporter=args.exporter,
        sample_size=parse_size(args.size) if args.size else None,
        check=not args.no_check,
        check_images=args.check_images,
        tolerance=args.tolerance,
    )
    print(f"wrote {result.path} ({args.format}, {result.seconds:.1f} s)")
    for r in result.parity:
        print(f"  parity {r.input:<32} max abs error {r.max_abs_error:.2e}  {'ok' if r.passed else 'FAIL'}")
    if args.json:
        write_json(args.json, result.to_dict())
    return 0

"""``ssrdepth bench``: measure training and inference speed, write JSON."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ssrdepth.core.io import write_json, write_text
from ssrdepth.experiments.bench import (
    DEFAULT_BACKENDS,
    INFERENCE_BACKENDS,
    BenchConfig,
    format_table,
    run_bench,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=None, help="subset of models (default: all six)")
    p.add_argument(
        "--out",
        default="runs/bench/bench.json",
        help="JSON result; a Markdown table goes beside it (.md) (default: runs/bench/bench.json)",
    )
    p.add_argument(
        "--device", choices=("cpu", "cuda", "all"), default="all", help="all = CPU, and CUDA if present"
    )
    p.add_argument("--quick", action="store_true", help="CI-sized run: width 0.125, tiny batches, 2 repeats")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (median reported)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs first")
    p.add_argument("--width", type=float, default=None, help="model width multiplier (default 1.0 = paper)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and ONNX Runtime")
    p.add_argument(
        "--infer-batch",
        type=int,
        default=None,
        help="throughput batch (default: training batch; 256 on CUDA)",
    )
    p.add_argument("--backends", nargs="+", choices=INFERENCE_BACKENDS, default=None)
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time torch.compile (training and inference; slow to compile)",
    )
    p.add_argument(
        "--exporter", choices=("dynamo", "legacy"), default=None, help="ONNX exporter for onnxruntime"
    )
    p.add_argument("--no-train", action="store_true", help="inference only")
    p.add_argument("--no-stereo", action="store_true", help="skip the stereo matchers")
    p.add_argument(
        "--no-keras",
        action="store_true",
        help="skip the Keras peer (measured only when TensorFlow is importable and --width is 1.0)",
    )


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    devices = ("cpu", "cuda") if args.device == "all" else (args.device,)
    if args.device == "all" and not torch.cuda.is_available():
        devices = ("cpu",)
    overrides: dict[str, Any] = {
        "devices": devices,
        "compile": args.compile,
        "train": not args.no_train,
        "stereo": not args.no_stereo,
        "keras": not args.no_keras,
        "threads": args.threads,
    }
    if args.models:
        from ssrdepth.models import canonical_name

        overrides["models"] = tuple(canonical_name(m) for m in args.models)
    for key in ("repeats", "warmup", "width", "infer_batch", "exporter"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    backends = tuple(args.backends) if args.backends else DEFAULT_BACKENDS
    if args.compile and "compiled" not in backends:
        backends += ("compiled",)
    overrides["backends"] = backends
    return BenchConfig.quick_config(**overrides) if args.quick else replace(BenchConfig(), **overrides)


def main(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    out = Path(args.out)
    result = run_bench(cfg, on_update=lambda partial: write_json(out, partial))
    table = format_table(result)
    write_text(out.with_suffix(".md"), table)
    print(table, end="")
    print(f"wrote {out} and {out.with_suffix('.md')} in {result['seconds']:.0f} s")
    return 0

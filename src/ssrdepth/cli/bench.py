"""``ssrdepth bench``: measure training and inference speed, write JSON."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ssrdepth.cli.common import add_config_arguments, print_config, resolve_command_config
from ssrdepth.core.io import write_json, write_text
from ssrdepth.experiments.bench import (
    INFERENCE_BACKENDS,
    BenchConfig,
    QualityConfig,
    format_table,
    run_bench,
)
from ssrdepth.experiments.demo import DEMO_WIDTH

#: Where ``ssrdepth demo`` renders its synthetic set (the default of ``--time-to-quality``).
DEMO_SYNTHETIC = "runs/demo/data/synthetic"

#: A valid ``--option`` (the help and error messages show it).
_EXAMPLE = 'stereo_size=620x375, devices=cpu or settings=[{label="a",size=[37,147],channels=1,batch=8}]'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=None, help="subset of models (default: all six)")
    p.add_argument(
        "--out",
        default="runs/bench/bench.json",
        help="JSON result; a Markdown table goes beside it (.md) (default: runs/bench/bench.json)",
    )
    p.add_argument(
        # None = keep the configuration's devices: "all" unless a --config file names them.
        "--device",
        choices=("cpu", "cuda", "all"),
        default=None,
        help="all = CPU, and CUDA if present",
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
    q = p.add_argument_group("time to quality (trains: minutes per recipe)")
    q.add_argument(
        "--time-to-quality",
        nargs="?",
        const=DEMO_SYNTHETIC,
        default=None,
        metavar="DIR",
        help="also train the demo preset and the paper's recipe on a rendered synthetic set and report "
        f"the seconds to each δ < 1.25 level (default DIR: {DEMO_SYNTHETIC}, what `ssrdepth demo` renders)",
    )
    q.add_argument("--quality-model", default="SCRXU", help="the network trained (default SCRXU)")
    q.add_argument(
        "--quality-steps",
        type=int,
        default=500,
        help="training per run, in steps of batch 40 (default 500; a recipe at another batch sees as many images)",
    )
    q.add_argument(
        "--quality-every", type=int, default=50, help="evaluate every N steps of batch 40 (default 50)"
    )
    q.add_argument(
        "--quality-images", type=int, default=100, help="test images per evaluation (default 100; 0 = all)"
    )
    q.add_argument(
        "--quality-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training override for both recipes (repeatable), e.g. batch_size=20",
    )
    add_config_arguments(p, BenchConfig, _EXAMPLE)


def quality_from_args(args: argparse.Namespace) -> QualityConfig | None:
    """The time-to-quality measurement ``--time-to-quality`` asks for (None: not asked).

    Raises:
        ValueError: the folder is not a rendered synthetic set (the message says how to render one).
    """
    if args.time_to_quality is None:
        return None
    from ssrdepth.models import canonical_name

    data = Path(args.time_to_quality)
    if not (data / "synthetic.json").is_file():
        raise ValueError(
            f"{data}: not a rendered synthetic set (no synthetic.json); run `ssrdepth demo` first, or "
            f"render one with `ssrdepth generate --out {data} --pairs 1000 --sequence-length 10`"
        )
    out = Path(args.out).with_suffix("").parent / "quality"
    return QualityConfig(
        data=str(data),
        out=str(out),
        model=canonical_name(args.quality_model),
        width=DEMO_WIDTH,
        max_images=args.quality_steps * 40,
        eval_every_images=args.quality_every * 40,
        eval_images=args.quality_images or None,
        overrides=tuple(args.quality_set),
    )


def _devices(device: str) -> tuple[str, ...]:
    """``--device``'s devices: ``all`` = the CPU, and CUDA where present."""
    if device == "all":
        return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    return (device,)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The :class:`BenchConfig` the command line asks for: ``--quick``'s preset (or the defaults) on
    every device (``--device all``), then the ``--config`` file, then every option given, then
    ``--option KEY=VALUE``."""
    base = BenchConfig.quick_config() if args.quick else BenchConfig()
    base = replace(base, devices=_devices("all"))

    def given(cfg: BenchConfig) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if args.device is not None:
            changes["devices"] = _devices(args.device)
        if args.models:
            from ssrdepth.models import canonical_name

            changes["models"] = tuple(canonical_name(m) for m in args.models)
        for key in ("repeats", "warmup", "width", "threads", "infer_batch", "exporter"):
            if getattr(args, key) is not None:
                changes[key] = getattr(args, key)
        for flag, key in (("no_train", "train"), ("no_stereo", "stereo"), ("no_keras", "keras")):
            if getattr(args, flag):
                changes[key] = False
        backends = tuple(args.backends) if args.backends else cfg.backends
        if args.compile:
            changes["compile"] = True
            if "compiled" not in backends:
                backends += ("compiled",)
        if backends != cfg.backends:
            changes["backends"] = backends
        return changes

    return resolve_command_config(base, args, given, _EXAMPLE)


def main(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if args.print_config:
        print_config(cfg)
        return 0
    try:
        quality = quality_from_args(args)
    except ValueError as exc:
        print(f"ssrdepth bench: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    result = run_bench(cfg, on_update=lambda partial: write_json(out, partial), quality=quality)
    table = format_table(result)
    write_text(out.with_suffix(".md"), table)
    print(table, end="")
    print(f"wrote {out} and {out.with_suffix('.md')} in {result['seconds']:.0f} s")
    failed = [
        r for r, row in (result.get("time_to_quality") or {}).get("recipes", {}).items() if "error" in row
    ]
    if failed:  # the numbers above are kept; the exit status says that part of the run failed
        print(
            f"ssrdepth bench: error: time to quality failed for {', '.join(failed)} (see the table)",
            file=sys.stderr,
        )
        return 1
    return 0

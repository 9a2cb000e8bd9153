"""``ssrdepth models``: a table of the networks — parameters, output stride and counted GFLOPs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ssrdepth.models import DepthNet, create_model, list_models


@dataclass(frozen=True)
class ModelRow:
    """One line of the table. ``gflops`` counts multiply and add as two FLOPs (PyTorch's flop counter)."""

    name: str
    in_channels: int
    height: int
    width: int
    parameters: int
    output_stride: float
    gflops: float


def parse_size(text: str) -> tuple[int, int]:
    """Parse the paper's ``WIDTHxHEIGHT`` notation (``147x37``) into ``(H, W)``."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 147x37")
    w, h = int(parts[0]), int(parts[1])
    return h, w


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_gflops(model: DepthNet, height: int, width: int) -> float:
    """Forward GFLOPs for one image of ``height``×``width``, counted by ``torch.utils.flop_counter``."""
    x = torch.zeros(1, model.in_channels, height, width)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / 1e9


def output_stride(model: DepthNet, height: int, width: int) -> float:
    """Input height over the height of the last map before the final bilinear resize (measured)."""
    with torch.no_grad():
        feats = model.forward_features(torch.zeros(1, model.in_channels, height, width))
    return round(height / feats.shape[-2], 3)


def model_table(
    sizes: list[tuple[int, int]] | None = None,
    channels: int = 1,
    names: list[str] | None = None,
    **options: object,
) -> list[ModelRow]:
    """Rows for every (model, size); ``sizes`` are ``(H, W)``, default the paper's 147×37."""
    rows = []
    for name in names or list_models():
        model = create_model(name, channels, **options).eval()
        for h, w in sizes or [(37, 147)]:
            rows.append(
                ModelRow(
                    model.name,
                    channels,
                    h,
                    w,
                    count_parameters(model),
                    output_stride(model, h, w),
                    count_gflops(model, h, w),
                )
            )
    return rows


def format_markdown(rows: list[ModelRow]) -> str:
    head = "| model | input | parameters | output stride | GFLOPs |\n|---|---|---:|---:|---:|\n"
    body = "".join(
        f"| {r.name} | {r.width}×{r.height}×{r.in_channels} | {r.parameters:,} | {r.output_stride:g} "
        f"| {r.gflops:.3f} |\n"
        for r in rows
    )
    return head + body


def add_arguments(p: argparse.ArgumentParser) -> None:
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

"""``ssrdepth models``: a table of the networks — parameters, output stride and counted GFLOPs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ssrdepth.core.flops import count_gflops, count_parameters
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


#: The column of :func:`output_stride`, named by what it measures.
STRIDE_HEADER = "output stride (input H / last map H)"
#: What the column means, for ``ssrdepth models --help``.
STRIDE_TEXT = (
    "output stride: the input height divided by the height of the network's last feature map, the one the "
    "final bilinear resize brings to the input size (measured with a forward pass). It is not an integer "
    "where pooling rounds odd sizes down: at 147×37, 37 / 9 = 4.111 where the last map is 9 rows high, "
    "37 / 36 = 1.028 where it is 36."
)


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
    head = f"| model | input | parameters | {STRIDE_HEADER} | GFLOPs |\n|---|---|---:|---:|---:|\n"
    body = "".join(
        f"| {r.name} | {r.width}×{r.height}×{r.in_channels} | {r.parameters:,} | {r.output_stride:g} "
        f"| {r.gflops:.3f} |\n"
        for r in rows
    )
    return head + body

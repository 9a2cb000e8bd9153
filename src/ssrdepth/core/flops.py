"""Model size and cost: parameters and FLOPs, counted by ``torch.utils.flop_counter`` (2 per multiply-add)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(fn: Callable[[], object]) -> float:
    """FLOPs of one call of ``fn``, counted by ``torch.utils.flop_counter`` (2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def count_gflops(model: torch.nn.Module, height: int, width: int) -> float:
    """Forward GFLOPs for one image of ``height``×``width`` (px) through ``model`` (``in_channels`` inputs)."""
    import torch

    x = torch.zeros(1, int(getattr(model, "in_channels", 1)), height, width)
    with torch.no_grad():
        return count_flops(lambda: model(x)) / 1e9

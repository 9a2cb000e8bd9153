"""The uncertainty of a torch network (evaluation, training's tools): the trained head's, or the flip's
from two forward passes.

The formulas and their sources are in :mod:`ssrdepth.core.confidence`; this runs the network under
the shared forward recipe, splits its output (:func:`~ssrdepth.core.confidence.split_output`) and, for
the flip, runs it again on the mirror image.
"""

from __future__ import annotations

import torch
from torch import nn

from ssrdepth.core.confidence import SOURCES, head_uncertainty, relative_disagreement, split_output
from ssrdepth.runtime.forward import forward


def has_head(net: nn.Module) -> bool:
    """Whether ``net`` has the trained uncertainty head (a 2-channel output; the ``uncertainty`` model
    option), read from its ``out_channels`` (1 for a network that does not say)."""
    return int(getattr(net, "out_channels", 1)) == 2


def prediction_map(net: nn.Module, image: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The normalised map ``(N, 1, h, w)`` float32 of an image batch: the network's first channel."""
    return split_output(forward(net, image, dtype).float())[0]


def with_uncertainty(
    net: nn.Module, image: torch.Tensor, source: str, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prediction and its uncertainty for an image batch.

    image: ``(N, C, H, W)`` in [0, 1] on the network's device (from
        :func:`~ssrdepth.runtime.forward.model_input`). dtype: the autocast dtype (``None``: float32).
    source: ``"head"``, the trained output ``exp(s)`` (:func:`~ssrdepth.core.confidence.head_uncertainty`,
        one pass), or ``"flip"``, the relative disagreement with the prediction for the mirrored image
        mirrored back (:func:`~ssrdepth.core.confidence.relative_disagreement`, a second pass).

    Returns ``(prediction, uncertainty)``, both ``(N, 1, h, w)`` float32: the normalised map [0, 1]
    (the network's first channel, unchanged) and a dimensionless map, higher = less sure.

    Raises:
        ValueError: an unknown source, or ``"head"`` for a network without the head.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown uncertainty source {source!r}; valid: {', '.join(SOURCES)}")
    a, log_scale = split_output(forward(net, image, dtype).float())
    if source == "head":
        if log_scale is None:
            raise ValueError(
                "the network has no trained uncertainty head (model option uncertainty); use the flip "
                "uncertainty instead"
            )
        return a, head_uncertainty(log_scale)
    b = prediction_map(net, torch.flip(image, dims=(-1,)), dtype).flip(dims=(-1,))
    return a, relative_disagreement(a, b)


def flip_disagreement(
    net: nn.Module, image: torch.Tensor, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``with_uncertainty(net, image, "flip", dtype)``: the prediction and its flip uncertainty."""
    return with_uncertainty(net, image, "flip", dtype)


__all__ = ["flip_disagreement", "has_head", "prediction_map", "with_uncertainty"]

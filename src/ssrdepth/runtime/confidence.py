"""The flip uncertainty of a torch network (evaluation, training's tools): its two forward passes.

The formula and its sources are in :mod:`ssrdepth.core.confidence`; this runs the network on the image
and on its mirror image (a second forward pass) under the shared forward recipe.
"""

from __future__ import annotations

import torch
from torch import nn

from ssrdepth.core.confidence import relative_disagreement
from ssrdepth.runtime.forward import forward


def flip_disagreement(
    net: nn.Module, image: torch.Tensor, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prediction and its flip uncertainty for an image batch.

    image: ``(N, C, H, W)`` in [0, 1] on the network's device (from
        :func:`~ssrdepth.runtime.forward.model_input`). dtype: the autocast dtype (``None``: float32).

    Returns ``(prediction, uncertainty)``, both ``(N, 1, h, w)`` float32: ``prediction = net(image)``
    unchanged (normalised [0, 1]), and the relative disagreement with ``b``, the prediction for the
    mirrored image mirrored back (:func:`ssrdepth.core.confidence.relative_disagreement`, the one
    formula). 0 where the two agree.
    """
    a = forward(net, image, dtype).float()
    b = forward(net, torch.flip(image, dims=(-1,)), dtype).float().flip(dims=(-1,))
    return a, relative_disagreement(a, b)


__all__ = ["flip_disagreement"]

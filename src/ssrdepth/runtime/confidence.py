"""The one per-pixel uncertainty that needs no training change: disagreement with the mirrored image.

A street (or a room) mirrored left–right is as plausible as the original, so a network that has learnt
depth predicts the same map, mirrored, for the mirrored image; where the two disagree, it is guessing.
This is the test-time flip of Godard et al. 2017 (Monodepth, Sec. 4.2, who average the two maps) used as
an uncertainty, as Poggi et al. 2020 ("On the uncertainty of self-supervised monocular depth
estimation", "Post" in their Table 1) do. It costs a second forward pass.
"""

from __future__ import annotations

import torch
from torch import nn

from ssrdepth.runtime.forward import forward

#: Floor of the mean map in the relative disagreement (normalised units): keeps the sky (disparity ≈ 0)
#: from dividing by zero; below it the difference itself is the measure.
RELATIVE_FLOOR = 1e-3


def flip_disagreement(
    net: nn.Module, image: torch.Tensor, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prediction and its flip uncertainty for an image batch.

    image: ``(N, C, H, W)`` in [0, 1] on the network's device (from
        :func:`~ssrdepth.runtime.forward.model_input`). dtype: the autocast dtype (``None``: float32).

    Returns ``(prediction, uncertainty)``, both ``(N, 1, h, w)`` float32: ``prediction = net(image)``
    unchanged (normalised [0, 1]), and ``uncertainty = |a − b| / max((a + b) / 2, 1e-3)`` with ``a`` the
    prediction and ``b`` the prediction for the mirrored image mirrored back — the relative
    disagreement, dimensionless and the same whether the map is disparity or depth (a relative error in
    disparity is the same relative error in depth, to first order). 0 where the two agree.
    """
    a = forward(net, image, dtype).float()
    b = forward(net, torch.flip(image, dims=(-1,)), dtype).float().flip(dims=(-1,))
    return a, (a - b).abs() / ((a + b) / 2).clamp(min=RELATIVE_FLOOR)


__all__ = ["RELATIVE_FLOOR", "flip_disagreement"]

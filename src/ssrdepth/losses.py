"""Training losses on normalised maps ``(N, 1, H, W)`` in [0, 1].

- ``l2_paper`` — eq. 1 of the paper: L2 = 1/(2n) Σᵢ ‖y(i) − y′(i)‖², a per-image *sum* of squared
  errors, halved, averaged over the n images of the batch (TensorFlow's ``l2_loss`` / n). It equals
  T/2 × the per-pixel MSE (T = H·W), so plain SGD needs a learning rate about T/2 smaller than for ``mse``.
- ``mse`` — the per-pixel mean of squared errors over the batch.
- ``masked_l2_paper`` / ``masked_mse`` — the same over the pixels whose ``valid_mask`` is true only.
  The masked per-image sum simply drops invalid pixels; the masked mean divides by the number of valid
  pixels in the batch (0 when there are none, so an all-invalid batch contributes no gradient).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _check(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.dim() < 2:
        raise ValueError(f"expected a batch (N, ...), got shape {tuple(pred.shape)}")
    if valid_mask is not None and valid_mask.shape != target.shape:
        raise ValueError(f"valid_mask shape {tuple(valid_mask.shape)} != target shape {tuple(target.shape)}")


def l2_paper(
    pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 1: ``sum((pred - target)**2) / (2 * n)`` with n = batch size. ``valid_mask`` is ignored."""
    _check(pred, target, None)
    return (pred - target).pow(2).sum() / (2 * pred.shape[0])


def mse(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel mean squared error over the whole batch. ``valid_mask`` is ignored."""
    _check(pred, target, None)
    return (pred - target).pow(2).mean()


def masked_l2_paper(
    pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None
) -> torch.Tensor:
    """Eq. 1 over valid pixels only: ``sum(mask · (pred − target)²) / (2n)``."""
    if valid_mask is None:
        return l2_paper(pred, target)
    _check(pred, target, valid_mask)
    return torch.where(valid_mask, (pred - target).pow(2), 0.0).sum() / (2 * pred.shape[0])


def masked_mse(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error over valid pixels of the batch (0 if none is valid)."""
    if valid_mask is None:
        return mse(pred, target)
    _check(pred, target, valid_mask)
    sq = torch.where(valid_mask, (pred - target).pow(2), 0.0)
    return sq.sum() / valid_mask.sum().clamp(min=1)


LOSSES: dict[str, LossFn] = {
    "l2_paper": l2_paper,
    "mse": mse,
    "masked_l2_paper": masked_l2_paper,
    "masked_mse": masked_mse,
}


def get_loss(name: str) -> LossFn:
    """Loss function by name; ValueError listing the valid names otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}") from None

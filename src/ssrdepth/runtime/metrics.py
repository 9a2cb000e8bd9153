"""The valid-pixel per-image metric core: squared error over the valid pixels of each image, its
per-image RMSE, and the mean over the images that have a valid pixel (images without one are left
out and counted).

It is the aggregation rule of the evaluation protocols (``per-image``: each image's measure, then the
mean over images, images without a valid pixel skipped; :mod:`ssrdepth.evaluation.protocols`),
computed batched on the device, with float64 sums that DDP processes add up, for training's
validation (:func:`ssrdepth.training.validation.validate`). Its ``rmse`` is the protocol
``get_protocol("paper", mask="valid")``'s per-image ``rmse`` and its ``mse`` that protocol's pooled
``mse``, up to float32 rounding (tests/runtime). The ``normalised`` preset differs only by its caps:
it leaves out target pixels ≤ 1e-3 and clamps predictions to ≥ 1e-3.
"""

from __future__ import annotations

import torch


def valid_pixel_sums(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """One batch's sums, float64 ``(4,)`` on the batch's device:
    ``[Σ valid squared error, # valid pixels, Σ per-image RMSE, # images with a valid pixel]``.

    pred, target: ``(N, 1, H, W)`` float, in the same units; valid: bool of the same shape. The
    squared errors and per-image RMSEs are computed in ``pred``'s dtype, the sums in float64.
    """
    sq = torch.where(valid, (pred - target).pow(2), 0.0).flatten(1)
    count = valid.flatten(1).sum(1)
    has = count > 0
    rmse = torch.sqrt(sq.sum(1)[has] / count[has])
    return torch.stack([sq.sum().double(), count.sum().double(), rmse.sum().double(), has.sum().double()])


class ValidPixelMetrics:
    """Sums of :func:`valid_pixel_sums` over batches; :meth:`result` gives ``{"mse": squared error
    pooled over all valid pixels, "rmse": per-image RMSE averaged over images with a valid pixel}``
    (0 for an empty set). ``sums`` is the float64 ``(4,)`` tensor to all-reduce under DDP."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(4, dtype=torch.float64, device=device)

    def add(self, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> None:
        """One batch ``(N, 1, H, W)`` (see :func:`valid_pixel_sums`)."""
        self.sums += valid_pixel_sums(pred, target, valid)

    def result(self) -> dict[str, float]:
        """The measures (one read-back from the device)."""
        sq, pixels, rmse, images = self.sums.tolist()
        return {"mse": sq / max(pixels, 1.0), "rmse": rmse / max(images, 1.0)}

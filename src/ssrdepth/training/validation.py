"""Training's validation: the training loss and the valid-pixel metrics of the normalised maps, with the
forward recipe of the training step (:mod:`ssrdepth.runtime`), summed over DDP processes.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from ssrdepth.core.confidence import split_output
from ssrdepth.losses import LossFn
from ssrdepth.runtime import ValidPixelMetrics, forward, memory_format, model_input
from ssrdepth.training.distributed import DistInfo


@torch.no_grad()
def validate(
    model: nn.Module,
    loader: DataLoader[Any],
    loss_fn: LossFn,
    device: torch.device,
    *,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    max_batches: int = 0,
    ddp: DistInfo | None = None,
) -> tuple[dict[str, float], tuple[torch.Tensor, ...] | None]:
    """Validation on normalised [0, 1] maps over valid pixels.

    Returns ``({"val_loss", "val_mse", "val_rmse"}, first_batch)``: ``val_loss`` is the training loss
    averaged over images; ``val_mse`` the squared error pooled over all valid pixels; ``val_rmse`` the
    per-image RMSE over valid pixels, averaged over images (the paper's tables average per image);
    both from :class:`~ssrdepth.runtime.metrics.ValidPixelMetrics`: the measures the evaluation
    protocols give as ``get_protocol("paper", mask="valid")``'s ``rmse`` (per image) and, pooled,
    its ``mse``, here batched on the device (per-image values in float32, sums in float64).
    ``first_batch`` is ``(image, target, prediction)`` of the first batch, on the CPU.
    In DDP each process validates its share and the sums are added up.
    """
    was_training = model.training
    model.eval()
    # [loss·n, n]: the training loss averaged over images
    loss_sums = torch.zeros(2, dtype=torch.float64, device=device)
    measures = ValidPixelMetrics(device)
    first: tuple[torch.Tensor, ...] | None = None
    fmt = memory_format(channels_last)
    # islice, not a break after the count: the loader would load one batch more than is evaluated.
    for batch in itertools.islice(loader, max_batches) if max_batches else loader:
        image = model_input(batch["image"], device, fmt)
        target = batch["target"].to(device, non_blocking=True)
        valid = batch["valid_mask"].to(device, non_blocking=True)
        pred = forward(model, image, autocast_dtype).float()
        loss = loss_fn(pred, target, valid)
        pred = split_output(pred)[0]  # the measures score the map, not the uncertainty head
        n = pred.shape[0]
        loss_sums += torch.stack(
            [loss.detach().double() * n, torch.tensor(float(n), dtype=torch.float64, device=device)]
        )
        measures.add(pred, target, valid)
        if first is None:
            first = (image.float().cpu(), target.cpu(), pred.cpu())
    if ddp is not None and ddp.world > 1:
        dist.all_reduce(loss_sums)
        dist.all_reduce(measures.sums)
    model.train(was_training)
    total_loss, images = loss_sums.tolist()
    valid_pixel = measures.result()
    metrics = {
        "val_loss": total_loss / max(images, 1.0),
        "val_mse": valid_pixel["mse"],
        "val_rmse": valid_pixel["rmse"],
    }
    return metrics, first

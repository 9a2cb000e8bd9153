"""The forward recipe shared by the training step, validation and evaluation: the input batch moved
to the device in the run's memory format, the network run under the precision's autocast.

``precision`` names are those of :func:`ssrdepth.core.hardware.resolve_precision`: ``"fp32"`` (no
autocast), ``"bf16"``, ``"fp16"``.
"""

from __future__ import annotations

import torch
from torch import nn

#: Precision → the autocast dtype (``None``: float32, autocast off).
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved ``precision`` (``"fp32"`` → ``None``).

    Raises:
        KeyError: not a resolved precision (``"auto"`` is resolved by ``resolve_precision`` first).
    """
    return AUTOCAST_DTYPES[precision]


def memory_format(channels_last: bool) -> torch.memory_format:
    """``torch.channels_last`` (NHWC, faster convolutions on CPUs and tensor cores) or the default."""
    return torch.channels_last if channels_last else torch.contiguous_format


def precision_autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """``torch.autocast`` to ``dtype`` on ``device``'s type, disabled for ``None`` (float32)."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def model_input(
    image: torch.Tensor, device: torch.device, fmt: torch.memory_format = torch.contiguous_format
) -> torch.Tensor:
    """An image batch ``(N, C, H, W)`` in [0, 1] on ``device`` in memory format ``fmt`` (non-blocking
    copy: from pinned loader memory it overlaps the previous step)."""
    return image.to(device, non_blocking=True).contiguous(memory_format=fmt)


def forward(net: nn.Module, image: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``net(image)`` under the autocast of ``dtype`` (``None``: float32) on the image's device; the
    output ``(N, 1, H, W)`` in the autocast dtype (callers take ``.float()`` for losses and metrics).
    ``image`` comes from :func:`model_input`."""
    with precision_autocast(image.device, dtype):
        return net(image)

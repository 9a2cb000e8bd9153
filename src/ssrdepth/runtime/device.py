"""The one device choice of training, evaluation and inference (:func:`resolve_device`)."""

from __future__ import annotations

import torch


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """The ``torch.device`` that ``name`` asks for on this machine.

    name: ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"`` (device 0) or
        ``"cuda:N"``; any other name is passed to ``torch.device``.
    local_rank: under DDP (torchrun), the process's local rank, which then picks the CUDA device
        (one GPU per process); ``None`` for a single process.

    No CUDA call is made beyond the availability and count queries: data sets may fork worker processes
    while they are built, which must happen before this process creates a CUDA context.

    Raises:
        ValueError: CUDA asked for where there is none, or a CUDA index beyond the devices here.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if not name.startswith("cuda"):
        return torch.device(name)
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available here; valid devices here: cpu")
    index = local_rank if local_rank is not None else (int(name[5:]) if ":" in name else 0)
    if index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device("cuda", index)

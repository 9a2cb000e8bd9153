"""What a measurement ran on: one description for reports and benchmarks."""

from __future__ import annotations

import contextlib
import os
import platform
from typing import Any

from ssrdepth.core.hardware import usable_cores


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows
    (:func:`ssrdepth.core.hardware.cpu_name`, the one reader)."""
    from ssrdepth.core.hardware import cpu_name

    return cpu_name()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory (GiB), platform, Python/torch/numpy versions, torch threads, oneDNN,
    the GPU if any, and onnxruntime's version when installed."""
    import numpy as np
    import torch

    mem_gib = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    with contextlib.suppress(ImportError):
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
    return info


def speed_key(threads: int | None = None) -> dict[str, Any]:
    """What makes speed measurements on this machine comparable, for the caches of choices made by
    measurement (the inference backend, :mod:`ssrdepth.inference.autoselect`; the training memory
    format, :mod:`ssrdepth.runtime.layout`): the CPU model and its speed flags, the core count, the
    torch threads (``threads``, else torch's current setting when torch is installed) and torch's
    version (``None`` without torch: an ONNX file predicts without it)."""
    import importlib

    from ssrdepth.core.hardware import speed_flags

    torch_version: str | None = None
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        torch = None
    if torch is not None:
        torch_version = str(torch.__version__)
        if threads is None:
            threads = int(torch.get_num_threads())
    return {
        "cpu": cpu_model(),
        "flags": sorted(f for f, on in speed_flags().items() if on),
        "cpu_count": os.cpu_count(),
        "threads": threads or os.cpu_count(),
        "torch": torch_version,
    }

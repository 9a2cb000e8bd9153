"""The bench's measuring primitives: timing on a device (through :mod:`ssrdepth.core.timing`, the one
timer), peak memory, the matmul peak, and the seeded models every row times."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import resource
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from ssrdepth.core.hardware import native_bf16
from ssrdepth.core.timing import interleaved_times
from ssrdepth.models import DepthNet, create_model


def device_sync(device: torch.device) -> Callable[[], None] | None:
    """What makes a clock reading see finished work on ``device``: ``torch.cuda.synchronize`` on CUDA
    (kernels run asynchronously), nothing on the CPU."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return None


def interleaved_medians(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    device: torch.device,
    settle: int = 0,
) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, round-robin, after ``warmup`` untimed calls each; in each
    round a function first runs ``settle`` untimed times (absorbing the cost of switching from another
    backend: thread-pool wake-up, caches). Returns all run times (s) per name; their median is reported.
    :func:`ssrdepth.core.timing.interleaved_times` with the device's sync."""
    return interleaved_times(fns, repeats, warmup, settle=settle, sync=device_sync(device))


def _read_status_kib(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so that the next run's
    allocations show up in the resident set instead of reusing what earlier runs left."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ≥ 4.0); False where that is not possible."""
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, Any]]:
    """Measure the peak memory of the block: ``{"peak_mib", "baseline_mib", "method"}``; on CPU the
    peak resident set and the rise over what was resident before; on CUDA the allocator's peak."""
    out: dict[str, Any] = {}
    gc.collect()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield out
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        out.update(method="torch.cuda.max_memory_allocated")
    else:
        resettable = _reset_peak_rss()
        base_kib = _read_status_kib("VmRSS")
        yield out
        hwm = _read_status_kib("VmHWM") if resettable else None
        if hwm is not None and base_kib is not None:
            base, peak = base_kib * 1024, hwm * 1024
            out.update(method="VmHWM after clear_refs (peak resident set)")
        else:
            ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (
                1 if sys.platform == "darwin" else 1024
            )
            base, peak = 0, ru
            out.update(method="ru_maxrss (process lifetime peak; cannot be reset)")
    out.update(peak_mib=peak / 2**20, baseline_mib=base / 2**20, rise_mib=max(0, peak - base) / 2**20)


def matmul_peak(device: torch.device, size: int | None = None, repeats: int = 5) -> dict[str, Any]:
    """fp32 matmul GFLOP/s (median of ``repeats`` after 2 warm-ups) for ``size``² matrices
    (default 2048 on CPU, 8192 on CUDA), with TF32 off so that it is a true fp32 figure. On CUDA also
    ``tf32_gflops`` (TF32 on), since cuDNN runs fp32 convolutions in TF32 by default
    (``torch.backends.cudnn.allow_tf32``, recorded as ``cudnn_allow_tf32``). Where bf16 is native
    (CUDA, or a CPU with AMX-BF16 / AVX-512 BF16) also ``bf16_gflops``: the same product in bfloat16,
    the ceiling of every bf16 row (a bf16 convolution cannot run faster than this for long)."""
    n = size or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    old = torch.backends.cuda.matmul.allow_tf32
    out: dict[str, Any] = {"size": n, "dtype": "float32"}
    try:
        for tf32 in (False, True) if device.type == "cuda" else (False,):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            med = statistics.median(interleaved_medians({"mm": lambda: a @ b}, repeats, 2, device)["mm"])
            key = "tf32_gflops" if tf32 else "gflops"
            out[key] = 2 * n**3 / med / 1e9
            if not tf32:
                out["seconds"] = med
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    if device.type == "cuda":
        out["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    if device.type == "cuda" or native_bf16():
        a16, b16 = a.to(torch.bfloat16), b.to(torch.bfloat16)
        med = statistics.median(interleaved_medians({"mm": lambda: a16 @ b16}, repeats, 2, device)["mm"])
        out["bf16_gflops"] = 2 * n**3 / med / 1e9
    return out


def bench_model(
    name: str, channels: int, width: float, device: torch.device, channels_last: bool
) -> DepthNet:
    """Network ``name`` with seeded weights (seed 0) on ``device``, NHWC when ``channels_last``."""
    torch.manual_seed(0)
    net = create_model(name, channels, width=width).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return net


__all__ = ["bench_model", "device_sync", "interleaved_medians", "matmul_peak", "peak_memory"]

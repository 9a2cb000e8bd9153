"""What the running machine can do, and the precision chosen from it.

``precision = "auto"`` (the default for training, inference and the demo) resolves here: bf16 autocast
where the CPU has native bf16 arithmetic (AMX-BF16 or AVX-512 BF16, read from ``/proc/cpuinfo``) and on
CUDA, fp32 elsewhere. Measured (BENCHMARKS.md, issue 12): on CPUs with native bf16, bf16 autocast
trains the six networks 2.5–4× faster than fp32 at equal accuracy (docs/training.md); on CPUs without
it, bf16 is emulated and slower than fp32.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

#: Precisions a user can ask for. ``auto`` resolves with :func:`resolve_precision`.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

#: CPU flags (Linux ``/proc/cpuinfo`` names) that matter for the speed of these networks.
SPEED_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
)

#: Flags that mean bf16 multiply-accumulate runs natively (Intel Cooper Lake and later, AMD Zen 4 and
#: later: ``avx512_bf16``; Intel Sapphire Rapids and later: ``amx_bf16``).
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity mask where the OS has one (a container or
    ``taskset`` may allow fewer than ``os.cpu_count()``), else the CPU count."""
    import os

    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (empty where ``/proc/cpuinfo`` is absent)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def speed_flags(flags: frozenset[str] | None = None) -> dict[str, bool]:
    """``{flag: present}`` for :data:`SPEED_FLAGS` (what BENCHMARKS.md records beside every number)."""
    have = cpu_flags() if flags is None else flags
    return {f: f in have for f in SPEED_FLAGS}


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU multiplies bf16 natively (AMX-BF16 or AVX-512 BF16)."""
    have = cpu_flags() if flags is None else flags
    return any(f in have for f in NATIVE_BF16_FLAGS)


def resolve_precision(precision: str, device_type: str, flags: frozenset[str] | None = None) -> str:
    """``"auto"`` → ``"bf16"`` on CUDA or on a CPU with native bf16, else ``"fp32"``; other values are
    returned unchanged after a check.

    Raises:
        ValueError: an unknown precision, or ``fp16`` on a CPU (autocast fp16 needs CUDA here).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid values: {', '.join(PRECISIONS)}")
    if precision == "fp16" and device_type != "cuda":
        raise ValueError("precision 'fp16' needs a CUDA device; use 'bf16', 'fp32' or 'auto' on the CPU")
    if precision != "auto":
        return precision
    if device_type == "cuda":
        return "bf16"
    return "bf16" if native_bf16(flags) else "fp32"

"""``channels_last = "auto"``: the memory format a training step runs faster in, on this machine.

NHWC (channels-last) is not faster everywhere, and not even on every machine of one kind. Measured
(BENCHMARKS.md, "Memory format"): on CPUs with native bf16 (AMX, AVX-512 BF16) the recipe's step ran
1.10–1.26× faster channels-last; on one 2-core AVX2-only AMD EPYC in float32 the whole step ran 6 %
*slower* (892 vs 839 ms for SCRXU ×0.25 at 147×37, batch 40), while on another AVX2-only EPYC the
forward and backward pass ran 10–20 % *faster* (SCRXU batch 20: 456 vs 553 ms; SC batch 40: 561 vs
627 ms). So ``auto`` measures instead of guessing:

1. a deep copy of the network (the run's own weights and optimiser are never touched) takes a forward
   and backward pass of the run's loss on a fixed random batch of the run's input shape, under the
   run's precision, once in each format;
2. the two steps are timed interleaved (:func:`ssrdepth.core.timing.interleaved_medians`: one warm-up
   each, then :data:`REPEATS` rounds; 8 passes in all), so load from other processes hits both alike;
3. channels-last is kept only when it is faster by more than :data:`MARGIN` (a tie keeps the default
   layout, which every kernel supports).

The choice is cached in ``$SSRDEPTH_CACHE_DIR/layout-choice.json`` (default ``$XDG_CACHE_HOME/ssrdepth``
or ``~/.cache/ssrdepth``; :func:`ssrdepth.core.io.user_cache_dir`), keyed by the machine
(:func:`ssrdepth.core.machine.speed_key`), the network (name, options, input channels), the batch shape,
the precision and the device, so it is measured once per machine and setting and a resumed run takes
the same layout as the run it resumes. Delete the file to measure again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ssrdepth.core.io import user_cache_dir, write_json
from ssrdepth.core.machine import speed_key
from ssrdepth.core.timing import interleaved_medians
from ssrdepth.runtime.forward import forward

logger = logging.getLogger(__name__)

CACHE_FILE = "layout-choice.json"
#: Timed rounds per format after the warm-up (the median is kept).
REPEATS = 3
#: Channels-last must be this much faster (time ratio) to be chosen: below it the two are a tie within
#: the timing noise of a 2-core machine (interleaved medians of 3 agree to ~2 %), and a tie keeps the
#: default layout.
MARGIN = 0.02

#: A step's loss: (prediction (N, 1, H, W) float32, target (N, 1, H, W)) → scalar.
StepLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LayoutChoice:
    """What ``auto`` chose: ``channels_last``; ``seconds`` per step in each format (``{"contiguous":
    s, "channels_last": s}``, empty when not measured); ``cached``: read from the cache."""

    channels_last: bool
    seconds: dict[str, float] = field(default_factory=dict)
    cached: bool = False

    def summary(self) -> str:
        """One line for the log: the choice and the two times."""
        chosen = "channels-last" if self.channels_last else "contiguous"
        if not self.seconds:
            return f"memory format: {chosen}"
        times = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in self.seconds.items())
        return (
            f"memory format: {chosen} (auto, one training step: {times}{'; cached' if self.cached else ''})"
        )


def resolve_channels_last(value: bool | str) -> bool | None:
    """``True``/``False`` as given, ``None`` for ``"auto"`` (measure with :func:`choose_channels_last`).

    Raises:
        ValueError: a string other than ``"auto"``.
    """
    if isinstance(value, bool):
        return value
    if value == "auto":
        return None
    raise ValueError(f"channels_last: expected true or false, or 'auto', got {value!r}")


def layout_key(what: dict[str, Any]) -> str:
    """Cache key of a setting (``what``: network, options, shape, precision, device) on this machine."""
    text = json.dumps({"machine": speed_key(), **what}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads((user_cache_dir() / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, choice: LayoutChoice, what: dict[str, Any]) -> None:
    path = user_cache_dir() / CACHE_FILE
    data = _read_cache()
    data[key] = {
        "channels_last": choice.channels_last,
        "seconds": choice.seconds,
        "setting": what,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    try:
        write_json(path, data)
    except OSError as exc:  # a read-only home must not stop training
        logger.warning("could not write the layout choice cache %s: %s", path, exc)


def _step(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: StepLoss, dtype: torch.dtype | None
) -> Callable[[], object]:
    def step() -> object:
        net.zero_grad(set_to_none=True)
        value = loss(forward(net, x, dtype).float(), y)
        value.backward()
        return value

    return step


def measure_layouts(
    model: nn.Module,
    shape: tuple[int, int, int, int],
    loss: StepLoss,
    device: torch.device,
    dtype: torch.dtype | None = None,
    repeats: int = REPEATS,
) -> dict[str, float]:
    """Seconds of one forward + backward pass of ``loss`` through a copy of ``model`` on a random batch
    of ``shape`` ``(N, C, H, W)`` (images in [0, 1], targets in [0.05, 1]) under autocast ``dtype``, in
    each memory format, timed interleaved: ``{"contiguous": s, "channels_last": s}``. ``model`` is not
    changed and the global random state is not used (a private generator, seed 0)."""
    gen = torch.Generator().manual_seed(0)
    n, _c, h, w = shape
    x = torch.rand(shape, generator=gen).to(device)
    y = (torch.rand((n, 1, h, w), generator=gen) * 0.95 + 0.05).to(device)
    steps = {}
    for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        net = copy.deepcopy(model).to(device=device, memory_format=fmt)  # type: ignore[call-overload]
        net.train()
        steps[name] = _step(net, x.contiguous(memory_format=fmt), y, loss, dtype)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    return interleaved_medians(steps, repeats, 1, settle=0, sync=sync)


def choose_channels_last(
    model: nn.Module,
    shape: tuple[int, int, int, int],
    loss: StepLoss,
    device: torch.device,
    dtype: torch.dtype | None,
    what: dict[str, Any],
) -> LayoutChoice:
    """The memory format of ``model``'s training step at ``shape`` on this machine (see the module
    docstring): from the cache when this setting was measured here before, else measured
    (:func:`measure_layouts`) and cached. ``what`` describes the setting for the cache key (network
    name, options, input channels; the shape, precision and device are added here)."""
    setting = {**what, "shape": list(shape), "dtype": str(dtype), "device": device.type}
    key = layout_key(setting)
    hit = _read_cache().get(key)
    if isinstance(hit, dict) and isinstance(hit.get("channels_last"), bool):
        seconds = {str(k): float(v) for k, v in (hit.get("seconds") or {}).items()}
        return LayoutChoice(hit["channels_last"], seconds, cached=True)
    seconds = measure_layouts(model, shape, loss, device, dtype)
    faster = seconds["channels_last"] < seconds["contiguous"] * (1.0 - MARGIN)
    choice = LayoutChoice(faster, seconds)
    _write_cache(key, choice, setting)
    return choice

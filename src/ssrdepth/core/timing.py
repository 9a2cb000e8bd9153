"""How ssrdepth times code: the one home of every timing loop and of the score that compares timings.

Everything that times something uses this module: ``--backend auto``
(:mod:`ssrdepth.inference.autoselect`), OpenVINO's choice of settings
(:mod:`ssrdepth.inference.openvino_backend`), the stereo matchers' speed
(:func:`ssrdepth.stereo.matching.benchmark_matchers`) and ``ssrdepth bench``
(:mod:`ssrdepth.experiments.bench`).

- :func:`elapsed`: seconds of ``calls`` back-to-back calls of one function (one interval).
- :func:`interleaved_times`: every run time of several functions timed *interleaved* (round-robin), so
  that load from other processes hits them alike; ``warmup`` untimed calls of each first, and in every
  round ``settle`` untimed calls of a function before its timed one (absorbing the cost of switching
  from another: thread-pool wake-up, caches). :func:`interleaved_medians`: their medians.
- :func:`ratios_to_best` and :func:`ratio_score`: the "sum of ratios to the best" score. Each candidate
  is measured in several cases (e.g. batch 1 and the prediction batch); in each case its time is divided
  by the best time (or the best rate by its rate), and the ratios are summed, so that no case is
  sacrificed to another and each case weighs alike whatever its absolute time. The lowest score wins
  (:func:`best_of`).

``sync`` is an optional callable run before each clock reading that must see finished work (e.g.
``torch.cuda.synchronize``: CUDA kernels run asynchronously). ``clock`` is the clock to read, seconds as
a float; ``None`` means :func:`time.perf_counter`, looked up at each call so that a test can replace it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping

#: A clock: seconds as a float, increasing.
Clock = Callable[[], float]


def _clock(clock: Clock | None) -> Clock:
    return time.perf_counter if clock is None else clock


def elapsed(
    fn: Callable[[], object],
    calls: int = 1,
    *,
    sync: Callable[[], None] | None = None,
    clock: Clock | None = None,
) -> float:
    """Seconds for ``calls`` back-to-back calls of ``fn``, as one interval (two clock readings)."""
    read = _clock(clock)
    if sync is not None:
        sync()
    start = read()
    for _ in range(calls):
        fn()
    if sync is not None:
        sync()
    return read() - start


def interleaved_times(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    *,
    settle: int = 0,
    sync: Callable[[], None] | None = None,
    clock: Clock | None = None,
) -> dict[str, list[float]]:
    """Every run time (s) of each function, ``repeats`` per name, timed round-robin.

    Order of calls: ``warmup`` untimed calls of each function in turn; then ``repeats`` rounds, in each
    of which every function runs ``settle`` untimed times and once timed (:func:`elapsed`).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    if sync is not None:
        sync()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(settle):
                fn()
            times[name].append(elapsed(fn, sync=sync, clock=clock))
    return times


def interleaved_medians(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    *,
    settle: int = 0,
    sync: Callable[[], None] | None = None,
    clock: Clock | None = None,
) -> dict[str, float]:
    """Median seconds per call of each function, timed by :func:`interleaved_times`."""
    times = interleaved_times(fns, repeats, warmup, settle=settle, sync=sync, clock=clock)
    return {k: statistics.median(v) for k, v in times.items()}


def ratios_to_best(values: Mapping[str, float], *, higher_is_better: bool = False) -> dict[str, float]:
    """Each value relative to the best of them, ≥ 1 (1 for the best): ``value / min`` for times,
    ``max / value`` for rates (``higher_is_better``). Raises ``ValueError`` on an empty mapping."""
    if not values:
        raise ValueError("no values to compare")
    if higher_is_better:
        top = max(values.values())
        return {k: top / v for k, v in values.items()}
    low = min(values.values())
    return {k: v / low for k, v in values.items()}


def ratio_score(cases: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Sum over ``cases`` (each ``{name: ratio to the best}``, :func:`ratios_to_best`) of each name's
    ratio, added in the order of the cases; names in the order of the first case. Every case must
    hold the same names."""
    score: dict[str, float] = {}
    for ratios in cases:
        if not score:
            score = dict.fromkeys(ratios, 0.0)
        for name, ratio in ratios.items():
            score[name] += ratio
    return score


def best_of(score: Mapping[str, float]) -> str:
    """The name with the lowest score (the first of equals)."""
    return min(score, key=lambda k: score[k])


__all__ = [
    "Clock",
    "best_of",
    "elapsed",
    "interleaved_medians",
    "interleaved_times",
    "ratio_score",
    "ratios_to_best",
]

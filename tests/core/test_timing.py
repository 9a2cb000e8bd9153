"""The shared timer (:mod:`ssrdepth.core.timing`) on a fake clock: every function advances the clock by
a known amount per call, so the medians and the ratio score can be worked out by hand."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest

from ssrdepth.core import timing


class FakeClock:
    """A clock that only moves when a timed function says how long its call took."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def taking(self, name: str, durations: list[float], calls: list[str]) -> Callable[[], None]:
        """A function whose successive calls last ``durations`` (s) on this clock."""
        it: Iterator[float] = iter(durations)

        def fn() -> None:
            calls.append(name)
            self.now += next(it)

        return fn


def test_elapsed_is_one_interval_of_back_to_back_calls() -> None:
    clock = FakeClock()
    calls: list[str] = []
    synced: list[float] = []
    fn = clock.taking("f", [0.5, 0.25, 1.0], calls)
    assert timing.elapsed(fn, 3, sync=lambda: synced.append(clock.now), clock=clock) == 1.75
    assert calls == ["f"] * 3 and clock.reads == 2
    assert synced == [0.0, 1.75]  # before the start and before the end reading


def test_interleaved_times_and_medians_by_hand() -> None:
    clock = FakeClock()
    calls: list[str] = []
    syncs = itertools.count()
    # warm-up 1, then 3 rounds of (settle 1, timed 1): 7 calls each; 9 s for every untimed call.
    a = clock.taking("a", [9, 9, 1, 9, 4, 9, 2], calls)
    b = clock.taking("b", [9, 9, 3, 9, 3, 9, 6], calls)
    times = timing.interleaved_times(
        {"a": a, "b": b}, repeats=3, warmup=1, settle=1, sync=lambda: next(syncs), clock=clock
    )
    assert times == {"a": [1, 4, 2], "b": [3, 3, 6]}
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert next(syncs) == 1 + 2 * 6  # once after the warm-up, twice around each timed call
    assert clock.reads == 2 * 6

    clock2 = FakeClock()
    a2 = clock2.taking("a", [9, 9, 1, 9, 4, 9, 2], [])
    b2 = clock2.taking("b", [9, 9, 3, 9, 3, 9, 6], [])
    medians = timing.interleaved_medians({"a": a2, "b": b2}, 3, 1, settle=1, clock=clock2)
    assert medians == {"a": 2, "b": 3}  # medians of (1, 4, 2) and (3, 3, 6)


def test_ratio_score_by_hand() -> None:
    # Batch 8: a 2 s, b 3 s → ratios 1, 1.5; batch 1: a 0.5 s, b 0.25 s → ratios 2, 1.
    batched = timing.ratios_to_best({"a": 2.0, "b": 3.0})
    single = timing.ratios_to_best({"a": 0.5, "b": 0.25})
    assert (batched, single) == ({"a": 1.0, "b": 1.5}, {"a": 2.0, "b": 1.0})
    score = timing.ratio_score([batched, single])
    assert score == {"a": 3.0, "b": 2.5} and list(score) == ["a", "b"]
    assert timing.best_of(score) == "b"  # the lower sum, though a is the faster at batch 8
    # Rates (higher is better): the best rate over each rate, the same ratio as times would give.
    assert timing.ratios_to_best({"a": 4.0, "b": 2.0}, higher_is_better=True) == {"a": 1.0, "b": 2.0}
    assert timing.best_of({"x": 2.0, "y": 2.0}) == "x"  # the first of equals
    assert timing.ratio_score([]) == {}
    with pytest.raises(ValueError, match="no values"):
        timing.ratios_to_best({})


def test_the_default_clock_is_read_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: 0.25 * next(ticks))
    assert timing.elapsed(lambda: None, 5) == 0.25
    assert timing.interleaved_medians({"f": lambda: None}, 3, 2) == {"f": 0.25}

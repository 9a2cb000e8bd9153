"""``bench``'s stereo rows (:func:`ssrdepth.experiments.bench.bench_stereo`): what they say follows from
what was timed and matched, checked with a clock that ticks by a known amount per reading (no
wall-clock thresholds) and a second matching of the same pair."""

from __future__ import annotations

import itertools
import os
import time

import numpy as np
import pytest

from ssrdepth.experiments.bench import BenchConfig, bench_stereo, format_table
from ssrdepth.stereo import matching
from ssrdepth.stereo.matching import METHODS, compute_disparity, default_settings

TICK = 0.25  # s between two readings of the fake clock


def test_stereo_rows_follow_from_the_timings_and_the_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workers wherever the test runs (the pool has os.cpu_count() processes), and a clock whose
    # every reading is TICK after the last: each timed interval (two readings) lasts exactly TICK.
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: TICK * next(ticks))
    cfg = BenchConfig.quick_config(models=("C",), repeats=5)  # the quick bench's stereo size
    h, w = cfg.stereo_size

    result = bench_stereo(cfg)

    repeats = 2  # half the network repeats, at least one
    assert (result["size"], result["workers"], result["repeats"]) == ([h, w], 2, repeats)
    assert set(result["methods"]) == set(METHODS)
    # The timing pair: the same synthetic pair for every matcher, its range the largest matcher's.
    pair = matching._synthetic_pair((h, w), max(default_settings(m).max_disparity for m in METHODS))
    for method, row in result["methods"].items():
        if "error" in row:  # a matcher whose package is missing says so and how to get it
            assert method == "elas" and "pip install" in row["error"]
            continue
        # One process: `repeats` pairs in one interval; the pool: 2 workers × `repeats` pairs in one.
        assert row["single_pairs_per_s"] == pytest.approx(repeats / TICK, rel=1e-12)
        assert row["seconds_per_pair"] == pytest.approx(TICK / repeats, rel=1e-12)
        assert row["single_pairs_per_s"] * row["seconds_per_pair"] == pytest.approx(1.0, rel=1e-12)
        assert row["parallel_pairs_per_s"] == pytest.approx(2 * repeats / TICK, rel=1e-12)
        # The density is the fraction of pixels the matcher called valid on that pair, and the pair is
        # one the matchers can match (a third of the pixels or more, as at KITTI's full size).
        _, valid = compute_disparity(*pair, settings=default_settings(method))
        assert row["density"] == float(np.mean(valid)) and 0.3 < row["density"] < 1.0, method
    # The report's lines carry the same numbers.
    text = format_table({"devices": {}, "stereo": result})
    assert f"stereo targets at {w}×{h} (2 workers):" in text
    for method, row in result["methods"].items():
        if "error" not in row:
            single, parallel = row["single_pairs_per_s"], row["parallel_pairs_per_s"]
            assert f"- {method}: {single:.2f} pairs/s single, {parallel:.2f} parallel" in text


def test_stereo_rows_are_left_out_when_asked_and_a_failure_is_kept_as_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert bench_stereo(BenchConfig.quick_config(stereo=False)) == {"skipped": "disabled (--no-stereo)"}

    def broken(**_: object) -> dict[str, object]:
        raise RuntimeError("no OpenCV here")

    monkeypatch.setattr(matching, "benchmark_matchers", broken)
    assert bench_stereo(BenchConfig.quick_config()) == {"error": "RuntimeError: no OpenCV here"}

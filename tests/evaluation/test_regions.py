"""The region masks and scores of :mod:`ssrdepth.evaluation.regions` on maps small enough to work out by
hand."""

from __future__ import annotations

import numpy as np
import pytest

from ssrdepth.data.synthetic import REGIONS
from ssrdepth.evaluation.regions import (
    BOUNDARIES,
    ROAD,
    SKY,
    RegionAccumulator,
    occlusion_boundaries,
    region_masks,
    road_mask,
    sky_mask,
)

T, F = True, False


def test_occlusion_boundaries_mark_both_sides_of_each_jump() -> None:
    d = np.array([[0, 0, 0, 0], [5, 5, 1, 1], [5, 5, 1.5, 1]], np.float32)
    # Jumps > 3 px: rows 0/1 in columns 0, 1 (5 px); row 1 columns 1/2 (4 px); row 2 columns 1/2
    # (3.5 px). Not: 0 → 1 (1 px), 1 → 1.5 (0.5 px), 1.5 → 1 (0.5 px).
    want = np.array([[T, T, F, F], [T, T, T, F], [F, T, T, F]])
    np.testing.assert_array_equal(occlusion_boundaries(d), want)
    # A jump of exactly the threshold is not a boundary; a lower threshold finds the 1 px step too.
    np.testing.assert_array_equal(occlusion_boundaries(np.array([[0.0, 3.0]])), [[F, F]])
    np.testing.assert_array_equal(occlusion_boundaries(np.array([[0.0, 1.0]]), 0.5), [[T, T]])
    with pytest.raises(ValueError, match="expected a disparity map"):
        occlusion_boundaries(np.zeros((1, 2, 2)))


def test_sky_is_no_finite_depth_below_the_cap() -> None:
    depth = np.array([[0.0, 90.0, 80.0, 79.9, np.nan, -1.0]])
    np.testing.assert_array_equal(sky_mask(depth, 80.0), [[T, T, T, F, T, T]])


def test_road_is_the_generators_label() -> None:
    road = REGIONS.index("road")
    labels = np.array([[0, road], [road, 3]], np.uint8)
    np.testing.assert_array_equal(road_mask(labels), [[F, T], [T, F]])


def test_region_scores_by_hand() -> None:
    # Top-left two pixels are sky (depth 0), one building pixel at 20 m, a road row at 10 m.
    depth = np.array([[0.0, 0.0, 20.0], [10.0, 10.0, 10.0]])
    road = REGIONS.index("road")
    labels = np.array([[0, 0, 3], [road, road, road]], np.uint8)
    # f·B = 100 × 0.5 = 50 px·m: disparities [[0, 0, 2.5], [5, 5, 5]]; jumps > 3 px only between the
    # sky and the road below it (5 px), so the boundaries are columns 0 and 1 of both rows.
    masks = region_masks(depth, labels, focal=100.0, baseline=0.5)
    np.testing.assert_array_equal(masks[SKY], [[T, T, F], [F, F, F]])
    np.testing.assert_array_equal(masks[ROAD], [[F, F, F], [T, T, T]])
    np.testing.assert_array_equal(masks[BOUNDARIES], [[T, T, F], [T, T, F]])
    pred = np.array([[np.inf, 50.0, 25.0], [12.0, 7.5, 10.0]])
    acc = RegionAccumulator()
    acc.add(pred, depth, masks)
    r = acc.result()
    # Sky: inf is beyond the 80 m cap, 50 m is not.
    assert r[SKY] == {"pixels": 2, "beyond_cap": 0.5}
    # Road: |12 − 10| / 10 = 0.2, |7.5 − 10| / 10 = 0.25, 0 → AbsRel 0.45 / 3 = 0.15; δ: 1.2 < 1.25,
    # 10 / 7.5 = 1.33 ≥ 1.25, 1 → 2 / 3; RMSE √((4 + 6.25 + 0) / 3).
    assert r[ROAD]["pixels"] == 3
    assert r[ROAD]["abs_rel"] == pytest.approx(0.15)
    assert r[ROAD]["delta1"] == pytest.approx(2 / 3)
    assert r[ROAD]["rmse"] == pytest.approx(np.sqrt(10.25 / 3))
    # Boundaries: the sky's boundary pixels have no depth, so only (1, 0) and (1, 1) are scored.
    assert r[BOUNDARIES]["pixels"] == 2
    assert r[BOUNDARIES]["abs_rel"] == pytest.approx(0.225)
    assert r[BOUNDARIES]["delta1"] == pytest.approx(0.5)


def test_a_region_absent_everywhere_has_no_scores() -> None:
    depth = np.full((2, 2), 10.0)
    masks = region_masks(depth, np.zeros((2, 2), np.uint8), focal=100.0, baseline=0.5)
    acc = RegionAccumulator()
    acc.add(np.full((2, 2), 10.0), depth, masks)
    r = acc.result()
    assert r[ROAD] == {"pixels": 0} and r[BOUNDARIES] == {"pixels": 0}
    assert r[SKY] == {"pixels": 0, "beyond_cap": None}

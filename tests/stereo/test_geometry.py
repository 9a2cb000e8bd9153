"""Disparity ↔ depth by hand, normalisation through TargetScale, resizing of disparity maps."""

from __future__ import annotations

import numpy as np
import pytest

from ssrdepth.stereo.geometry import (
    KITTI_BASELINE,
    depth_to_disparity,
    disparity_to_depth,
    median_relative_difference,
    resize_disparity,
    target_scale,
)


def test_disparity_to_depth_by_hand() -> None:
    # f·B = 721.5 · 0.54 = 389.61: 38.961 px ↔ 10 m, 389.61 px ↔ 1 m; 0, < 0, NaN, inf → unknown (0).
    d = np.array([38.961, 389.61, 0.0, -3.0, np.nan, np.inf], dtype=np.float32)
    z = disparity_to_depth(d, 721.5, KITTI_BASELINE)
    np.testing.assert_allclose(z, [10.0, 1.0, 0, 0, 0, 0], rtol=1e-6)
    assert z.dtype == np.float32
    np.testing.assert_allclose(
        depth_to_disparity(np.array([10.0, 1.0, 0.0]), 721.5, 0.54), [38.961, 389.61, 0]
    )
    with pytest.raises(ValueError, match="must be > 0"):
        disparity_to_depth(d, 0.0, 0.54)


def test_round_trip_and_target_scale() -> None:
    rng = np.random.default_rng(0)
    depth = rng.uniform(2.0, 80.0, (5, 7)).astype(np.float32)
    disparity = depth_to_disparity(depth, 707.0912, 0.5371)
    np.testing.assert_allclose(disparity_to_depth(disparity, 707.0912, 0.5371), depth, rtol=1e-5)
    # Normalised target = disparity / 192; TargetScale turns it back into the same metres.
    scale = target_scale(192, focal=707.0912, baseline=0.5371, reference_width=1226)
    target = scale.from_physical(disparity)
    assert target.max() <= 1.0
    np.testing.assert_allclose(scale.to_depth(target), depth, rtol=1e-5)


def test_resize_disparity_scales_values_and_ignores_invalid() -> None:
    disparity = np.array([[8.0, 8.0, 4.0, 0.0], [8.0, 8.0, 2.0, 0.0]], dtype=np.float32)
    valid = disparity > 0
    out, out_valid = resize_disparity(disparity, valid, (1, 2))
    # Left block: mean 8 px, halved width → 4 px. Right block: valid 4 and 2 (half covered) → 3 → 1.5.
    np.testing.assert_allclose(out, [[4.0, 1.5]])
    np.testing.assert_array_equal(out_valid, [[True, True]])
    out, out_valid = resize_disparity(disparity, valid, (1, 2), min_coverage=0.75)
    np.testing.assert_array_equal(out_valid, [[True, False]])
    assert out[0, 1] == 0
    up, up_valid = resize_disparity(disparity, valid, (4, 8))
    assert up[0, 0] == 16.0 and up[3, 5] == 4.0 and not up_valid[0, 7]


def test_median_relative_difference_by_hand() -> None:
    depth = np.array([11.0, 9.0, 5.0, 0.0, 7.0])
    reference = np.array([10.0, 10.0, 4.0, 3.0, 0.0])
    # Known in both: |1|/10, |−1|/10, |1|/4 → median 0.1 over 3 pixels.
    assert median_relative_difference(depth, reference) == (pytest.approx(0.1), 3)
    rel, n = median_relative_difference(np.zeros(3), np.ones(3))
    assert n == 0 and np.isnan(rel)

"""TargetScale's conversions (at another width, in another camera, to any quantity, into another
scale) and the 16-bit PNG codec, on numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssrdepth.core.png16 import decode_png16, encode_png16
from ssrdepth.core.scale import TargetScale

#: KITTI-like: 192 px maximum disparity, focal 721.5 px and baseline 0.54 m, both at width 1242.
KITTI = TargetScale("disparity", 192.0, 721.5, 0.54, 1242)


def test_disparity_scales_with_width_depth_does_not() -> None:
    half = np.full((2, 621), 0.5, np.float32)
    full = np.full((2, 1242), 0.5, np.float32)
    # 0.5 × 192 px at 1242 = 96 px; at half the width 48 px.
    np.testing.assert_allclose(KITTI.to_quantity(full, "disparity"), 96.0)
    np.testing.assert_allclose(KITTI.to_quantity(half, "disparity"), 48.0)
    # depth = f·B / d with f halved too: 360.75 × 0.54 / 48 = 721.5 × 0.54 / 96 = 4.0584375 m.
    np.testing.assert_allclose(KITTI.to_quantity(half, "depth"), 4.0584375, rtol=1e-6)
    np.testing.assert_allclose(KITTI.to_quantity(full, "depth"), 4.0584375, rtol=1e-6)
    assert KITTI.to_quantity(half, "depth").dtype == np.float32
    assert KITTI.to_quantity(half, "normalised") is half


def test_focal_scales_with_width_and_a_given_camera_wins() -> None:
    assert KITTI.camera(621) == (360.75, 0.54)
    assert KITTI.camera(621, 500.0, 0.3) == (500.0, 0.3)
    # another camera at width 621: 500 px × 0.3 m / 48 px = 3.125 m
    half = np.full((1, 621), 0.5, np.float32)
    np.testing.assert_allclose(KITTI.to_quantity(half, "depth", focal=500.0, baseline=0.3), 3.125, rtol=1e-6)
    # no reference width: the default width (a model's input width) is where focal holds
    bare = TargetScale("disparity", 96.0, 100.0, 0.5)
    assert bare.width(160) == 160 and KITTI.width(160) == 1242
    assert bare.camera(320, default_width=160) == (200.0, 0.5)
    np.testing.assert_allclose(bare.to_quantity(np.full((1, 320), 0.5), "disparity", default_width=160), 96.0)
    assert TargetScale("disparity", 96.0).camera(320) == (None, None)


def test_depth_scale_and_refusals() -> None:
    depth = TargetScale("depth", 80.0)
    np.testing.assert_allclose(depth.to_quantity(np.full((1, 7), 0.25), "depth"), 20.0)
    with pytest.raises(ValueError, match="cannot give disparity"):
        depth.to_quantity(np.zeros((1, 7)), "disparity")
    with pytest.raises(ValueError, match="focal length"):
        TargetScale("disparity", 96.0).to_quantity(np.zeros((1, 7)), "depth")
    with pytest.raises(ValueError, match="unknown quantity"):
        KITTI.to_quantity(np.zeros((1, 7)), "metres")


def test_from_target() -> None:
    assert TargetScale.from_target({"kind": "normalised", "max_value": 1.0}) is None
    assert TargetScale.from_target({}) is None
    assert TargetScale.from_target(KITTI.as_dict()) == KITTI
    with pytest.raises(ValueError, match="max_value"):
        TargetScale.from_target({"kind": "depth", "max_value": 0.0})


def test_renormalise_between_cameras_and_widths() -> None:
    x = np.full((1, 4), 0.5, np.float32)
    # same depth in a camera of half the focal (the same rig at half width): 96 px → 48 px, / 96 = 0.5
    half_rig = TargetScale("disparity", 96.0, 360.75, 0.54, 621)
    assert KITTI.disparity_factor(half_rig) == pytest.approx(0.5)
    np.testing.assert_allclose(KITTI.renormalise(x, half_rig), 0.5)
    # without cameras, by the reference widths: 96 px at 1242 → 48 px at 621, / 192 = 0.25
    a, b = (
        TargetScale("disparity", 192.0, reference_width=1242),
        TargetScale("disparity", 192.0, reference_width=621),
    )
    assert a.disparity_factor(b) is None
    np.testing.assert_allclose(a.renormalise(x, b), 0.25)
    t = torch.full((1, 1, 2, 2), 0.5)
    assert torch.allclose(a.renormalise(t, b), torch.full_like(t, 0.25))
    assert KITTI.renormalise(x, KITTI) is x
    with pytest.raises(ValueError, match="compare them in metres"):
        KITTI.renormalise(x, TargetScale("depth", 80.0))


def test_png16_codec_by_hand() -> None:
    values = np.array([[0.0, -1.0, np.nan, np.inf, 1 / 512, 1.0, 300.0, 2.5]])
    np.testing.assert_array_equal(encode_png16(values), [[0, 0, 0, 0, 0, 256, 65535, 640]])
    # min_code=1: a valid value never reads back as invalid
    np.testing.assert_array_equal(encode_png16(values, min_code=1)[0, 4], 1)
    mask = np.array([[True] * 7 + [False]])
    assert encode_png16(values, valid_mask=mask)[0, 7] == 0
    codes = np.array([[0, 256, 640, 65535]], np.uint16)
    np.testing.assert_array_equal(decode_png16(codes), np.array([[0.0, 1.0, 2.5, 65535 / 256]], np.float32))
    assert decode_png16(codes).dtype == np.float32
    np.testing.assert_array_equal(
        decode_png16(codes, 1000.0, invalid=65535), np.array([[0.0, 0.256, 0.64, 0.0]], np.float32)
    )
    np.testing.assert_array_equal(encode_png16(np.array([[0.5]]), 65535.0), [[32768]])

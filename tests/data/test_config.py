"""The data contract: configuration validation and the physical meaning of normalised targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssrdepth.data.config import DataConfig, TargetScale


def test_target_scale_disparity_to_depth_by_hand() -> None:
    # KITTI-like: f = 721.5 px, B = 0.54 m → f·B = 389.61; normalised 0.5 × 192 px = 96 px → 4.0584 m.
    scale = TargetScale("disparity", 192.0, focal=721.5, baseline=0.54, reference_width=1242)
    depth = scale.to_depth(np.array([0.0, 0.5, 1.0], dtype=np.float32))
    np.testing.assert_allclose(depth, [0.0, 389.61 / 96, 389.61 / 192], rtol=1e-6)
    assert depth.dtype == np.float32
    torch.testing.assert_close(scale.to_depth(torch.tensor([0.5])), torch.tensor([389.61 / 96]))
    assert scale.from_physical(scale.to_physical(0.25)) == pytest.approx(0.25)
    assert TargetScale.from_dict(scale.as_dict()) == scale


def test_target_scale_depth_and_errors() -> None:
    nyu = TargetScale("depth", 10.0)
    np.testing.assert_allclose(nyu.to_depth(np.array([0.1, 0.35])), [1.0, 3.5])
    with pytest.raises(ValueError, match="needs focal"):
        TargetScale("disparity", 100.0).to_depth(np.ones(2))
    with pytest.raises(ValueError, match="'disparity' or 'depth'"):
        TargetScale("inverse", 1.0)


def test_data_config_errors_list_valid_choices() -> None:
    with pytest.raises(ValueError, match="valid sources: synthetic, kitti-tracking"):
        DataConfig(source="cityscapes")
    with pytest.raises(ValueError, match="valid targets: stereo, lidar, depth"):
        DataConfig(target="flow")
    with pytest.raises(ValueError, match="H, W ≥ 8"):
        DataConfig(size=(4, 100))
    assert str(DataConfig(root="/d").cache_root()) == "/d/.ssrdepth"
    assert str(DataConfig(cache_dir="/c").cache_root()) == "/c"

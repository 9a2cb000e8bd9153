"""``ssrdepth prepare-targets`` end to end on the synthetic source, whose exact depth stands in for
lidar: stereo depth must agree with it on a lidar-like sparse sample of pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main as cli
from ssrdepth.data import DataConfig, generate_synthetic, list_stereo_pairs
from ssrdepth.data.synthetic import decode_depth
from ssrdepth.stereo.cache import TargetCache
from ssrdepth.stereo.geometry import depth_to_disparity, disparity_to_depth, median_relative_difference


@pytest.mark.slow
def test_prepare_targets_command_on_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic(root, 4, seed=0, sequence_length=2, workers=1, progress=False)  # 188×621
    argv = ["prepare-targets", "--source", "synthetic", "--root", str(root), "--max-disparity", "96"]
    assert cli([*argv, "--workers", "2", "--no-progress"]) == 0
    assert "4 computed, 0 already cached, 0 failed of 4 pairs" in capsys.readouterr().out
    assert cli([*argv, "--no-progress"]) == 0
    assert "0 computed, 4 already cached" in capsys.readouterr().out

    cfg = DataConfig(source="synthetic", root=str(root), max_disparity=96)
    cache = TargetCache.for_config(cfg)
    pairs = list_stereo_pairs(cfg)
    assert cache.keys() == sorted(p.key for p in pairs) and cache.settings.max_disparity == 96
    rng = np.random.default_rng(0)
    for pair in pairs:
        disparity, valid = cache.read(pair.key)
        depth_png = Path(str(pair.left).replace("image_02", "depth"))
        depth = decode_depth(cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED))
        truth = depth_to_disparity(depth, pair.focal, pair.baseline)
        known = truth > 0
        both = known & valid
        err = np.abs(disparity - truth)[both]
        d1 = np.mean((err > 3) & (err > 0.05 * truth[both]))
        # Lidar-like: exact depth at a random 4 % of the pixels (KITTI's velodyne density).
        sparse = np.where(rng.random(depth.shape) < 0.04, depth, 0.0)
        rel, n = median_relative_difference(disparity_to_depth(disparity, pair.focal, pair.baseline), sparse)
        print(
            f"\nsynthetic {pair.key}: EPE {err.mean():.3f} px, D1 {d1 * 100:.2f} %, "
            f"density {both.sum() / known.sum() * 100:.1f} %, stereo vs sparse exact depth: "
            f"median |ΔZ|/Z {rel * 100:.2f} % over {n} px"
        )
        # Measured (sgm, 6 frames): EPE 0.34–0.37 px, D1 0.7–0.8 %, density 90–91 %, median 1.3–1.6 %.
        assert err.mean() < 0.6 and d1 < 0.02 and both.sum() / known.sum() > 0.8
        assert n > 1000 and rel < 0.03


def test_prepare_targets_command_refuses_non_stereo_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nyu").mkdir()
    assert cli(["prepare-targets", "--source", "nyu", "--root", str(tmp_path / "nyu")]) == 2
    assert "has no stereo pairs" in capsys.readouterr().err

"""KITTI tracking / raw / object layouts on miniature trees, and the real object frames with lidar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.data import DataConfig, build_dataset, build_source, list_stereo_pairs, target_cache
from ssrdepth.data.sample import BadSampleError

from .conftest import BASELINE, FOCAL, SIZE, noise_image, write_png


def test_tracking_layout_keys_calibration_and_pairs(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 3, "0007": 2}, focal=FOCAL, baseline=BASELINE)
    pairs = list_stereo_pairs(DataConfig(source="kitti-tracking", root=str(root)))
    assert [p.key for p in pairs] == [
        "0000/000000",
        "0000/000001",
        "0000/000002",
        "0007/000000",
        "0007/000001",
    ]
    # Baseline from P2[0,3] − P3[0,3] over f: (50·0.06 − 50·(0.06 − 0.5)) / 50 = 0.5 m.
    assert all(p.focal == pytest.approx(FOCAL) and p.baseline == pytest.approx(BASELINE) for p in pairs)
    assert pairs[3].left == root / "training/image_02/0007/000000.png"
    assert pairs[3].right == root / "training/image_03/0007/000000.png"


def test_raw_layout(raw_tree: Path) -> None:
    pairs = list_stereo_pairs(DataConfig(source="kitti-raw", root=str(raw_tree)))
    assert [p.key for p in pairs] == [
        "2011_09_26_drive_0001_sync/0000000000",
        "2011_09_26_drive_0001_sync/0000000001",
        "2011_09_26_drive_0002_sync/0000000000",
        "2011_09_26_drive_0002_sync/0000000001",
    ]
    assert pairs[0].focal == pytest.approx(60.0) and pairs[0].baseline == pytest.approx(0.54)
    source = build_source(DataConfig(source="kitti-raw", root=str(raw_tree)))
    assert sorted({f.group for f in source.frames}) == [
        "2011_09_26_drive_0001_sync",
        "2011_09_26_drive_0002_sync",
    ]
    assert source.depth_kind == "none"


def write_scan(path: Path) -> None:
    # Velodyne (x fwd, y left, z up): a point 10 m ahead, 0.06 m left (= on camera 2's axis).
    path.parent.mkdir(parents=True, exist_ok=True)
    np.array([[10.0, 0.06, 0.0, 1.0]], np.float32).tofile(path)


def test_raw_and_tracking_lidar(raw_tree: Path, tracking_tree: Callable[..., Path]) -> None:
    date = raw_tree / "2011_09_26"
    (date / "calib_velo_to_cam.txt").write_text(
        "calib_time: 15-Mar-2012 11:37:16\nR: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 0\n"
    )
    write_scan(date / "2011_09_26_drive_0002_sync/velodyne_points/data/0000000001.bin")
    source = build_source(DataConfig(source="kitti-raw", root=str(raw_tree), target="lidar"))
    assert source.depth_kind == "lidar"
    # → camera (−0.06, 0, 10); P_rect_02 = K[I | (0.06, 0, 0)], f = 60, (cx, cy) = (40, 12): u = 40, v = 12.
    depth = source.depth(3)
    assert depth is not None and np.count_nonzero(depth) == 1 and depth[12, 40] == pytest.approx(10.0)
    no_scan = source.depth(0)
    assert no_scan is not None and not no_scan.any()  # a frame without a scan: no lidar depth
    assert source.meta(3)["velodyne"].endswith("0000000001.bin") and source.meta(0)["velodyne"] is None
    root = tracking_tree({"0000": 2})
    write_scan(root / "training/velodyne/0000/000001.bin")
    tracking = build_source(DataConfig(source="kitti-tracking", root=str(root), target="lidar"))
    depth = tracking.depth(1)
    assert depth is not None and np.count_nonzero(depth) == 1 and depth[12, 40] == pytest.approx(10.0)


def test_object_layout_lidar_projection_by_hand(object_tree: Path) -> None:
    cfg = DataConfig(source="kitti-object", root=str(object_tree), target="lidar", size=SIZE, max_depth=20.0)
    source = build_source(cfg)
    depth = source.depth(0)
    assert depth is not None
    # P2 = K[I | (0.06, 0, 0)], f = 50, (cx, cy) = (40, 12); velodyne (10, 0.06, 0) → camera
    # (−0.06, 0, 10) → u = 40, v = 12, Z = 10; (5, 1.06, 0) → (−1.06, 0, 5) → u = 40 − 50/5 = 30.
    assert np.count_nonzero(depth) == 2
    assert depth[12, 40] == pytest.approx(10.0) and depth[12, 30] == pytest.approx(5.0)
    ds = build_dataset(cfg, "all", cache=False)
    sample = ds[0]
    assert sample["valid_mask"].sum() == 2
    assert sample["target"][0, 12, 40].item() == pytest.approx(10.0 / 20.0)
    assert sample["depth"][0, 12, 30].item() == pytest.approx(5.0)


def test_missing_right_image_names_the_file_and_skip_bad_reports(
    tracking_tree: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    root = tracking_tree({"0000": 3})
    missing = root / "training/image_03/0000/000001.png"
    missing.unlink()
    with pytest.raises(ValueError, match=r"image_03/0000/000001\.png: right image missing"):
        list_stereo_pairs(DataConfig(source="kitti-tracking", root=str(root)))
    pairs = list_stereo_pairs(DataConfig(source="kitti-tracking", root=str(root), skip_bad=True))
    assert [p.key for p in pairs] == ["0000/000000", "0000/000002"]
    err = caplog.text
    assert "skipped 1 bad sample" in err and str(missing) in err


def test_size_mismatch_and_corrupt_png(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 2})
    right = root / "training/image_03/0000/000000.png"
    write_png(right, noise_image(9, (SIZE[0], SIZE[1] + 4)))
    with pytest.raises(ValueError, match=r"000000\.png: size 84×24 differs from the left image"):
        list_stereo_pairs(DataConfig(source="kitti-tracking", root=str(root)))
    left = root / "training/image_02/0000/000001.png"
    left.write_bytes(left.read_bytes()[:60])  # truncated
    cfg = DataConfig(source="kitti-tracking", root=str(root), target="stereo", size=(8, 16))
    cache = target_cache(cfg)
    for key in ("0000/000000", "0000/000001"):
        cache.write(key, np.full(SIZE, 10.0, np.float32))
    ds = build_dataset(cfg, "all", cache=False)
    with pytest.raises(BadSampleError, match=r"000001\.png: cannot decode the image \(corrupt, truncated"):
        ds[1]


def test_missing_calibration(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 1})
    (root / "training/calib/0000.txt").unlink()
    with pytest.raises(ValueError, match=r"calib/0000\.txt"):
        list_stereo_pairs(DataConfig(source="kitti-tracking", root=str(root)))
    with pytest.raises(FileNotFoundError, match="no training/ or testing/"):
        build_source(DataConfig(source="kitti-object", root=str(root / "training")))


def test_stereo_targets_normalised_by_max_disparity(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 2, "0001": 2})
    cfg = DataConfig(source="kitti-tracking", root=str(root), size=(12, 40), max_disparity=64)
    with pytest.raises(FileNotFoundError, match="ssrdepth prepare-targets --source kitti-tracking --root"):
        build_dataset(cfg, "all", cache=False)
    cache = target_cache(cfg)
    assert cache.settings.max_disparity == 64
    disparity = np.zeros(SIZE, np.float32)
    disparity[:, :40] = 16.0  # left half 16 px, right half invalid
    for pair in list_stereo_pairs(cfg):
        cache.write(pair.key, disparity)
    ds = build_dataset(cfg, "all", cache=False)
    sample = ds[0]
    assert ds.scale.kind == "disparity" and ds.scale.max_value == 64.0
    assert ds.scale.reference_width == SIZE[1] and ds.scale.focal == pytest.approx(FOCAL)
    # 16 / 64 = 0.25 on the valid half (2:1 shrink, masked averaging never mixes in the invalid half).
    assert torch.equal(sample["valid_mask"][0, :, :20], torch.ones(12, 20, dtype=torch.bool))
    assert not sample["valid_mask"][0, :, 20:].any()
    torch.testing.assert_close(sample["target"][0, :, :20], torch.full((12, 20), 0.25))
    assert sample["target"][0, :, 20:].abs().sum() == 0
    assert ds.meta(0)["scale"]["max_value"] == 64.0


@pytest.mark.shared_data
def test_real_kitti_object_frames_with_lidar(shared_data: Path) -> None:
    root = shared_data / "kitti_object"
    cfg = DataConfig(
        source="kitti-object", root=str(root), target="lidar", size=(94, 310), channels=3, max_depth=80.0
    )
    source = build_source(cfg)
    assert len(source.frames) == 7 and source.depth_kind == "lidar"
    assert all(f.right is None for f in source.frames)  # this sample has no image_3
    for i in range(len(source.frames)):
        depth = source.depth(i)
        assert depth is not None
        h, w = source.image(i).shape[:2]
        assert depth.shape == (h, w) and 1200 < w < 1250 and 365 < h < 380
        known = depth[depth > 0]
        # KITTI lidar: a few per cent of pixels, between ~2 and 80 m (shared/data/README.md).
        assert 0.02 < known.size / depth.size < 0.08
        assert known.min() > 1.0 and 60.0 < known.max() < 90.0
        # Lidar sees the road below the horizon: depth grows towards the horizon in the image centre.
        col = depth[:, w // 2 - 20 : w // 2 + 20]
        bottom = col[h - 40 :][col[h - 40 :] > 0]
        middle = col[h // 2 : h // 2 + 30][col[h // 2 : h // 2 + 30] > 0]
        if bottom.size and middle.size:
            assert np.median(bottom) < np.median(middle)
    ds = build_dataset(cfg, "all", cache=False)
    sample = ds[0]
    assert sample["image"].shape == (3, 94, 310)
    valid = sample["valid_mask"][0]
    # Sparse resize: an output pixel (≈ 4×4 input pixels) is valid when any lidar point falls in it,
    # so the valid fraction lies between the full-resolution density and 16 times it.
    full = source.depth(0)
    assert full is not None
    density = np.count_nonzero(full) / full.size
    assert density < valid.float().mean().item() < 16 * density
    torch.testing.assert_close(sample["target"][0][valid] * 80.0, sample["depth"][0][valid])
    with pytest.raises(ValueError, match="right image missing"):
        list_stereo_pairs(DataConfig(source="kitti-object", root=str(root)))

"""Inputs from the field (issue 15): truncated files of every kind, foreign layouts and geometry,
mixed calibrations in one split, and per-source depth defaults with a clipping warning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from ssrdepth.data import DataConfig, build_dataset, build_source
from ssrdepth.data.dataset import target_cache
from ssrdepth.data.kitti_lidar import read_velodyne
from ssrdepth.data.sample import BadSampleError

from .conftest import SIZE, fmt, noise_image, projection, raw_calib, write_png

# --- kind 2: truncated or inconsistent files ------------------------------------------------------


def test_velodyne_scan_not_a_multiple_of_16_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "000000.bin"
    np.array([[10.0, 0.0, 0.0, 1.0], [5.0, 1.0, 0.0, 1.0]], np.float32).tofile(path)
    assert read_velodyne(path).shape == (2, 4)
    path.write_bytes(path.read_bytes()[:18])  # cut inside the second point
    with pytest.raises(ValueError, match=r"000000\.bin: 18 bytes is not a whole number .*16 bytes each"):
        read_velodyne(path)


def test_calibration_missing_a_key_names_the_file_and_key(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 1})
    calib = root / "training" / "calib" / "0000.txt"
    calib.write_text("\n".join(ln for ln in calib.read_text().splitlines() if not ln.startswith("P3")))
    with pytest.raises(BadSampleError, match=r"0000\.txt: missing P3"):
        build_source(DataConfig(source="kitti-tracking", root=str(root)))


def test_truncated_pfm_is_refused_naming_the_file(tmp_path: Path) -> None:
    from ssrdepth.inference.outputs import read_pfm, write_pfm

    path = write_pfm(tmp_path / "d.pfm", np.ones((6, 5), np.float32), {})
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match=r"d\.pfm: truncated or inconsistent PFM"):
        read_pfm(path)


def write_mat(path: Path, images: np.ndarray, depths: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["images"] = images
        f["depths"] = depths
    return path


def test_truncated_nyu_mat_is_refused_naming_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mat = write_mat(
        tmp_path / "nyu" / "nyu_depth_v2_labeled.mat",
        rng.integers(0, 256, (3, 3, 64, 48), dtype=np.uint8),
        rng.uniform(1, 5, (3, 64, 48)).astype(np.float32),
    )
    mat.write_bytes(mat.read_bytes()[: mat.stat().st_size // 2])
    with pytest.raises(BadSampleError, match=r"nyu_depth_v2_labeled\.mat"):
        source = build_source(DataConfig(source="nyu", root=str(mat.parent)))
        source.image(2)
        source.depth(2)


# --- kind 3: foreign layouts and geometry ---------------------------------------------------------


def test_row_major_nyu_mat_is_refused_naming_the_expected_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # A NumPy-written file: (N, 3, 480, 640) as a C array, not MATLAB's transposed (N, 3, 640, 480).
    mat = write_mat(
        tmp_path / "nyu" / "nyu_depth_v2_labeled.mat",
        rng.integers(0, 256, (2, 3, 48, 64), dtype=np.uint8),
        rng.uniform(1, 5, (2, 48, 64)).astype(np.float32),
    )
    with pytest.raises(
        BadSampleError, match=r"labeled\.mat: 'images' has shape \(2, 3, 48, 64\).*\(N, 3, 640, 480\)"
    ):
        build_source(DataConfig(source="nyu", root=str(mat.parent)))


def test_calibration_of_other_images_is_refused(tracking_tree: Callable[..., Path], raw_tree: Path) -> None:
    root = tracking_tree({"0000": 1})
    calib = root / "training" / "calib" / "0000.txt"
    # A principal point for a 1242×375 camera on 80×24 images.
    calib.write_text(
        calib.read_text().replace(fmt(projection(50.0, 0.06)), fmt(projection(50.0, 0.06, 609.0, 172.0)))
    )
    with pytest.raises(
        BadSampleError, match=r"0000\.txt: principal point \(609, 172\) px lies outside the 80×24 image"
    ):
        build_source(DataConfig(source="kitti-tracking", root=str(root)))
    cam = raw_tree / "2011_09_26" / "calib_cam_to_cam.txt"
    cam.write_text(cam.read_text().replace(f"S_rect_02: {SIZE[1]} {SIZE[0]}", "S_rect_02: 1242 375"))
    with pytest.raises(BadSampleError, match=r"calib_cam_to_cam\.txt: states rectified images of 1242×375"):
        build_source(DataConfig(source="kitti-raw", root=str(raw_tree)))


def test_lidar_that_projects_outside_the_image_is_refused(object_tree: Path) -> None:
    velo = object_tree / "training" / "velodyne" / "000001.bin"
    # 10 m ahead but 30 m to the left: in front of the camera, outside its 80-px-wide view.
    np.array([[10.0, 30.0, 0.0, 1.0], [10.0, 40.0, 0.0, 1.0]], np.float32).tofile(velo)
    source = build_source(DataConfig(source="kitti-object", root=str(object_tree), target="lidar"))
    assert source.depth(0) is not None and source.depth(0).any()
    with pytest.raises(
        BadSampleError, match=r"000001\.bin: none of its 2 points projects into the 80×24 image"
    ):
        source.depth(1)


# --- kind 4: mixed calibrations in one split ------------------------------------------------------


def two_day_raw_tree(
    root: Path, calibs: dict[str, tuple[float, float]] | None = None
) -> dict[str, tuple[float, float]]:
    """KITTI raw with one drive on each of two recording days, each with its own (focal, baseline)."""
    calibs = calibs or {"2011_09_26": (60.0, 0.54), "2011_09_30": (70.0, 0.5371)}
    for day, (focal, baseline) in calibs.items():
        (root / day).mkdir(parents=True)
        (root / day / "calib_cam_to_cam.txt").write_text(raw_calib(focal, baseline))
        for k in range(2):
            for cam in ("image_02", "image_03"):
                write_png(
                    root / day / f"{day}_drive_0001_sync" / cam / "data" / f"{k:010d}.png", noise_image(k)
                )
    return calibs


def test_mixed_calibrations_a_perfect_prediction_is_exact_depth_on_both_days(tmp_path: Path) -> None:
    from ssrdepth.evaluation.evaluate import prediction_to_depth

    root = tmp_path / "raw"
    calibs = two_day_raw_tree(root)
    cfg = DataConfig(source="kitti-raw", root=str(root), target="stereo", size=SIZE)
    cache = target_cache(cfg)
    for frame in build_source(cfg).frames:  # the true disparity of a wall 20 m away, in each frame's camera
        focal, baseline = calibs[frame.key[:10]]
        cache.write(frame.key, np.full(SIZE, focal * baseline / 20.0, np.float32))
    ds = build_dataset(cfg, "all", cache=False)
    days = set()
    for i in range(len(ds)):
        meta = ds.meta(i)
        focal, baseline = calibs[meta["key"][:10]]
        stored, _ = cache.read(meta["key"])  # 20 m to the PNG's 1/256 px
        exact = torch.from_numpy(focal * baseline / stored)[None, None]
        perfect = ds[i]["target"][None]  # a prediction equal to the target
        depth = prediction_to_depth(perfect, ds.scale)
        torch.testing.assert_close(depth, exact, rtol=1e-5, atol=0)
        assert float(depth.mean()) == pytest.approx(20.0, rel=2e-3)
        days.add(meta["key"][:10])
        assert meta["scale"] == ds.scale.as_dict()
        assert (meta["focal"], meta["baseline"]) == pytest.approx(calibs[meta["key"][:10]])
    assert days == set(calibs)


def test_a_model_of_one_recording_day_renormalised_to_another_follows_the_camera_rule() -> None:
    """A monocular network sees apparent size, so in a camera with focal f_new it means depth ×
    f_new / f_train (the canonical-camera rule, Yin et al. 2023, issue 23): 20 m in the model's
    camera (f 60 px) is 20 × 70 / 60 m in the data's (f 70 px), whatever the data's baseline."""
    from ssrdepth.data.config import TargetScale
    from ssrdepth.evaluation.evaluate import prediction_to_depth, renormalise

    model = TargetScale("disparity", 192.0, focal=60.0, baseline=0.54, reference_width=80)
    data = TargetScale("disparity", 192.0, focal=70.0, baseline=0.5371, reference_width=80)
    pred = torch.full((1, 1, 4, 4), 60.0 * 0.54 / 20.0 / 192.0)  # 20 m in the model's camera
    torch.testing.assert_close(prediction_to_depth(pred, model), torch.full_like(pred, 20.0))
    torch.testing.assert_close(
        prediction_to_depth(renormalise(pred, model, data), data), torch.full_like(pred, 20.0 * 70.0 / 60.0)
    )
    # The same rig at half the width: focal halves with the width, the old width rule still holds.
    half = TargetScale("disparity", 192.0, focal=30.0, baseline=0.54, reference_width=40)
    torch.testing.assert_close(renormalise(pred, model, half), pred * 0.5)


# --- kind 6: depth defaults follow the source; clipping is reported -------------------------------


def test_max_depth_default_follows_the_source() -> None:
    for source in ("synthetic", "kitti-tracking", "kitti-raw", "kitti-object"):
        assert DataConfig(source=source).depth_limit == 80.0
    assert DataConfig(source="nyu").depth_limit == 10.0
    assert DataConfig(source="kitti-object", max_depth=50.0).depth_limit == 50.0
    with pytest.raises(ValueError, match="max_depth must be > 0"):
        DataConfig(max_depth=0.0)


def test_clipping_more_than_one_percent_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "rgbd"
    (root / "image").mkdir(parents=True)
    (root / "depth").mkdir()
    cv2.imwrite(str(root / "image" / "a.png"), noise_image(0))
    depth = np.full(SIZE, 5000, np.uint16)  # 5 m
    depth[:6] = 15000  # a quarter of the frame at 15 m, beyond the indoor default of 10 m
    cv2.imwrite(str(root / "depth" / "a.png"), depth)
    cfg = DataConfig(
        source="rgbd-folder", root=str(root), size=SIZE, target="depth",
        pattern=("image/{name}.png", "depth/{name}.png"), depth_scale=1000.0,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="ssrdepth"):
        build_dataset(cfg, "all", cache=False)[0]
    assert "25.0 % of the valid target pixels are beyond max_depth 10 m" in caplog.text
    assert "data.max_depth" in caplog.text and "a.png" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ssrdepth"):
        sample = build_dataset(DataConfig(**{**cfg.__dict__, "max_depth": 20.0}), "all", cache=False)[0]
    assert "beyond max_depth" not in caplog.text
    assert float(sample["target"].max()) == pytest.approx(15.0 / 20.0)


def _rgbd_set(root: Path, n: int, over: dict[int, int]) -> DataConfig:
    """``n`` RGB-D frames at 5 m; frame ``i`` in ``over`` has ``over[i]`` rows at 15 m (beyond 10 m)."""
    (root / "image").mkdir(parents=True)
    (root / "depth").mkdir()
    for i in range(n):
        cv2.imwrite(str(root / "image" / f"f{i:03d}.png"), noise_image(i))
        depth = np.full(SIZE, 5000, np.uint16)
        depth[: over.get(i, 0)] = 15000
        cv2.imwrite(str(root / "depth" / f"f{i:03d}.png"), depth)
    return DataConfig(
        source="rgbd-folder", root=str(root), size=SIZE, target="depth",
        pattern=("image/{name}.png", "depth/{name}.png"), depth_scale=1000.0,
    )  # fmt: skip


@pytest.mark.parametrize("workers", [1, 2])
def test_clipping_is_one_summary_per_split_with_each_file_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    from ssrdepth.data.arrays import cached_dataset
    from ssrdepth.data.dataset import DepthDataset

    # 64 files (two cache-building worker processes where asked), three past 1 %: rows/24 of each.
    cfg = _rgbd_set(tmp_path / "rgbd", 64, {3: 2, 17: 12, 40: 6})
    with caplog.at_level(logging.DEBUG, logger="ssrdepth"):
        cached_dataset(DepthDataset(cfg, "all"), progress=False, workers=workers)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("rgbd-folder (all): 3 of 64 files have more than 1 % of their valid target")
    assert f"(worst: {tmp_path / 'rgbd' / 'depth' / 'f017.png'}, 50.0 %;" in warnings[0]
    assert "--set data.max_depth=METRES" in warnings[0]
    debug = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.DEBUG and "beyond max_depth" in r.getMessage()
    ]
    assert sorted(m.split(":")[0].rsplit("/", 1)[-1] for m in debug) == ["f003.png", "f017.png", "f040.png"]


def test_stereo_targets_beyond_max_disparity_after_rescaling_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "raw"
    # The second day's camera has the smaller focal × baseline: its disparities grow in the split's.
    calibs = two_day_raw_tree(root, {"2011_09_26": (60.0, 0.54), "2011_09_30": (50.0, 0.5)})
    cfg = DataConfig(source="kitti-raw", root=str(root), target="stereo", size=SIZE, max_disparity=16)
    cache = target_cache(cfg)
    for frame in build_source(cfg).frames:
        cache.write(frame.key, np.full(SIZE, 15.0, np.float32))  # inside the 16 px search range
    ds = build_dataset(cfg, "all", cache=False)
    with caplog.at_level(logging.WARNING, logger="ssrdepth"):
        targets = {ds.meta(i)["key"][:10]: float(ds[i]["target"].max()) for i in range(len(ds))}
    # 15 px in the second day's camera = 15·(60·0.54)/(50·0.5) = 19.4 px in the split's: clipped at 16.
    assert targets == {"2011_09_26": pytest.approx(15 / 16), "2011_09_30": 1.0}
    assert "100.0 % of the valid target pixels are beyond max_disparity 16 px" in caplog.text
    assert "--max-disparity" in caplog.text and set(calibs) == set(targets)


# --- stereo targets cached at other settings: named, with the options that use them -------------------


def test_targets_cached_at_other_settings_are_named_with_the_options_that_use_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrdepth.cli import main
    from ssrdepth.stereo.cache import TargetCache
    from ssrdepth.stereo.matching import default_settings

    root = tmp_path / "raw"
    two_day_raw_tree(root)
    cfg = DataConfig(source="kitti-raw", root=str(root), target="stereo", size=SIZE)  # sgm, 192 px
    frames = build_source(cfg).frames
    bm96 = TargetCache(cfg.cache_root(), default_settings("bm", max_disparity=96))
    for frame in frames:
        bm96.write(frame.key, np.full(SIZE, 15.0, np.float32))
    with pytest.raises(FileNotFoundError) as info:
        build_dataset(cfg, "all", cache=False)
    message = str(info.value)
    n = len(frames)
    assert message.startswith(
        f"{n} of {n} stereo targets of kitti-raw (all) are not cached for matcher sgm, max_disparity 192"
    )
    assert (
        f"the cache {cfg.cache_root() / 'targets'} holds targets of this data made with matcher bm, max_disparity 96 "
        f"({n} of {n}): use them with --matcher bm --max-disparity 96 "
        "(--set data.matcher=bm --set data.max_disparity=96); or compute them with: ssrdepth prepare-targets"
    ) in message
    # The override named works; the same matcher at another range names only the range.
    assert (
        len(
            build_dataset(
                DataConfig(**{**cfg.__dict__, "matcher": "bm", "max_disparity": 96}), "all", cache=False
            )
        )
        == n
    )
    with pytest.raises(
        FileNotFoundError,
        match=r"matcher bm, max_disparity 96 \(\d+ of \d+\): use them with --max-disparity 96 \(--set data\.max_disparity=96\)",
    ):
        build_dataset(DataConfig(**{**cfg.__dict__, "matcher": "bm"}), "all", cache=False)
    # A set made with settings the data configuration cannot select (here a 7-px SGM window) is named
    # with them, without an option.
    sgm7 = TargetCache(cfg.cache_root(), default_settings("sgm", block_size=7))
    sgm7.write(frames[0].key, np.full(SIZE, 15.0, np.float32))
    with pytest.raises(
        FileNotFoundError,
        match=r"matcher sgm, max_disparity 192, block_size 7 \(1 of \d+\): other matcher settings",
    ):
        build_dataset(cfg, "all", cache=False)
    # The command line: one line, exit code 2.
    argv = ["evaluate", "SC", "--source", "kitti-raw", "--root", str(root), "--target", "stereo", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use them with --matcher bm --max-disparity 96" in err

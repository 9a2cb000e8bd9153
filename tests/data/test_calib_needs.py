"""Each calibration entry and file is required only where it is used (issue 25, kind 5): a one-camera
rig (no P3, no right images) serves lidar targets; stereo targets still refuse it, naming the file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ssrdepth.data import DataConfig, build_dataset, build_source
from ssrdepth.data.kitti import load_calib
from ssrdepth.data.kitti_calib import read_object_calib, read_raw_calib, read_tracking_calib

from .conftest import SIZE


def _drop(path: Path, *keys: str) -> None:
    """Remove the lines of ``keys`` from a calibration file."""
    lines = path.read_text().splitlines()
    kept = [ln for ln in lines if re.split(r"[: ]", ln, maxsplit=1)[0] not in keys]
    assert len(kept) == len(lines) - len(keys)
    path.write_text("\n".join(kept) + "\n")


def _scan(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Velodyne (x fwd, y left, z up): 10 m ahead, 0.06 m left → camera 2's axis (cameras 0.06 m apart).
    np.array([[10.0, 0.06, 0.0, 1.0]], np.float32).tofile(path)


def test_object_one_camera_rig_serves_lidar_and_refuses_stereo(object_tree: Path) -> None:
    t = object_tree / "training"
    for k in range(3):
        _drop(t / "calib" / f"{k:06d}.txt", "P3", "P1")
        (t / "image_3" / f"{k:06d}.png").unlink()
    calib = read_object_calib(t / "calib" / "000000.txt")
    assert calib.P3 is None and calib.baseline is None and calib.focal == 50.0
    cfg = DataConfig(source="kitti-object", root=str(object_tree), target="lidar", size=SIZE, max_depth=20.0)
    sample = build_dataset(cfg, "all", cache=False)[0]
    # The by-hand projection of conftest's object tree: (10, 0.06, 0) → (u, v) = (40, 12), Z = 10 m.
    assert sample["depth"][0, 12, 40].item() == pytest.approx(10.0)
    assert sample["target"][0, 12, 40].item() == pytest.approx(0.5)
    source = build_source(cfg)
    assert [f.baseline for f in source.frames] == [None] * 3 and [f.right for f in source.frames] == [
        None
    ] * 3
    with pytest.raises(ValueError, match=r"000000\.txt.*missing P3.*stereo targets.*--target lidar"):
        build_source(DataConfig(source="kitti-object", root=str(object_tree), target="stereo"))


def test_tracking_one_camera_rig_serves_lidar(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 2})
    _drop(root / "training/calib/0000.txt", "P3", "P1")
    for k in range(2):
        (root / f"training/image_03/0000/{k:06d}.png").unlink()
    _scan(root / "training/velodyne/0000/000001.bin")
    source = build_source(DataConfig(source="kitti-tracking", root=str(root), target="lidar"))
    depth = source.depth(1)
    assert depth is not None and np.count_nonzero(depth) == 1 and depth[12, 40] == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"0000\.txt.*missing P3"):
        build_source(DataConfig(source="kitti-tracking", root=str(root), target="stereo"))


def test_raw_one_camera_rig_serves_lidar(raw_tree: Path) -> None:
    date = raw_tree / "2011_09_26"
    _drop(date / "calib_cam_to_cam.txt", "P_rect_03")
    for right in date.glob("*_sync/image_03/data/*.png"):
        right.unlink()
    (date / "calib_velo_to_cam.txt").write_text("R: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 0\n")
    _scan(date / "2011_09_26_drive_0002_sync/velodyne_points/data/0000000001.bin")
    assert read_raw_calib(date / "calib_cam_to_cam.txt").P3 is None
    source = build_source(DataConfig(source="kitti-raw", root=str(raw_tree), target="lidar"))
    depth = source.depth(3)  # raw_calib: f = 60, (cx, cy) = (40, 12)
    assert depth is not None and np.count_nonzero(depth) == 1 and depth[12, 40] == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"calib_cam_to_cam\.txt.*missing P_rect_03"):
        build_source(DataConfig(source="kitti-raw", root=str(raw_tree), target="stereo"))


def test_rectifying_rotation_only_for_lidar(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 2})
    _drop(root / "training/calib/0000.txt", "R_rect")
    calib = read_tracking_calib(root / "training/calib/0000.txt")
    assert calib.R0_rect is None and calib.baseline == pytest.approx(0.5)
    # Stereo pairs need no R_rect: the source builds.
    assert len(build_source(DataConfig(source="kitti-tracking", root=str(root))).frames) == 2
    _scan(root / "training/velodyne/0000/000001.bin")
    load_calib.cache_clear()
    source = build_source(DataConfig(source="kitti-tracking", root=str(root), target="lidar"))
    with pytest.raises(ValueError, match=r"0000\.txt.*R0_rect"):
        source.depth(1)


def test_a_malformed_entry_is_still_refused(object_tree: Path) -> None:
    path = object_tree / "training/calib/000000.txt"
    path.write_text(path.read_text().replace("P3: ", "P3: 1 2 3\nP3_old: "))
    with pytest.raises(ValueError, match="P3 has 3 values, expected 12"):
        read_object_calib(path)


def test_evaluate_a_monocular_model_against_lidar_without_p3(object_tree: Path, tmp_path: Path) -> None:
    """The reported case: ``ssrdepth evaluate`` against lidar on a one-camera KITTI-layout tree."""
    from ssrdepth.cli import main as cli

    t = object_tree / "training"
    for k in range(3):
        _drop(t / "calib" / f"{k:06d}.txt", "P3")
        (t / "image_3" / f"{k:06d}.png").unlink()
    argv = ["evaluate", "SC", "--width", "0.125", "--source", "kitti-object", "--root", str(object_tree)]
    argv += ["--target", "lidar", "--max-depth", "20", "--split", "all", "--quiet"]
    assert cli([*argv, "--protocol", "kitti", "--out", str(tmp_path / "eval")]) == 0
    assert any((tmp_path / "eval").iterdir())


def test_a_calibration_in_millimetres_is_named(tracking_tree: Callable[..., Path]) -> None:
    root = tracking_tree({"0000": 1}, baseline=540.0)  # P3[0, 3] = f · (0.06 − 540): millimetres
    with pytest.raises(ValueError, match=r"0000\.txt: stereo baseline 540 m from P2/P3 .*not millimetres"):
        build_source(DataConfig(source="kitti-tracking", root=str(root)))


def test_raw_scans_without_their_calibration_name_the_file(raw_tree: Path) -> None:
    date = raw_tree / "2011_09_26"
    _scan(date / "2011_09_26_drive_0002_sync/velodyne_points/data/0000000001.bin")
    with pytest.raises(ValueError, match=r"calib_velo_to_cam\.txt: not found: lidar targets need it"):
        build_source(DataConfig(source="kitti-raw", root=str(raw_tree), target="lidar"))
    # Stereo targets do not use the scans: the same tree builds.
    assert len(build_source(DataConfig(source="kitti-raw", root=str(raw_tree))).frames) == 4

"""A depth target records its camera's focal length (the training camera of the canonical-camera rule),
and the synthetic generator renders other cameras (--focal-scale)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from ssrdepth.data import DataConfig, build_dataset, build_source, generate_synthetic
from ssrdepth.data.intrinsics import read_calib

KITTI_FOCAL = 721.5377  # px at 1242 wide (2011_09_26 P2)


def test_rgbd_folder_records_data_focal(tmp_path: Path) -> None:
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "rgb" / f"{name}.png"), np.full((16, 32, 3), 100, np.uint8))
        cv2.imwrite(str(tmp_path / "depth" / f"{name}.png"), np.full((16, 32), 2000, np.uint16))
    base = {"source": "rgbd-folder", "root": str(tmp_path), "target": "depth", "depth_scale": 1000.0}
    ds = build_dataset(DataConfig(**base, focal=25.0, size=(8, 16)), "all", cache=False)
    assert (ds.scale.kind, ds.scale.focal, ds.scale.reference_width) == ("depth", 25.0, 32)
    plain = build_dataset(DataConfig(**base, size=(8, 16)), "all", cache=False)
    assert plain.scale.focal is None  # no camera given: none recorded (no conversion later)


def test_nyu_frames_carry_the_kinect_focal(tmp_path: Path) -> None:
    mat = tmp_path / "nyu_depth_v2_labeled.mat"
    with h5py.File(mat, "w") as f:
        f["images"] = np.zeros((2, 3, 16, 12), np.uint8)
        f["depths"] = np.ones((2, 16, 12), np.float32)
        f["labels"] = np.zeros((2, 16, 12), np.uint16)
    source = build_source(DataConfig(source="nyu", root=str(mat), target="depth"))
    assert source.frames[0].focal == pytest.approx(518.8579)  # fx_rgb, NYU toolbox camera_params.m


def test_generator_renders_another_focal_and_keeps_older_sets(tmp_path: Path) -> None:
    root = tmp_path / "long"
    generate_synthetic(root, 2, size=(32, 96), sequence_length=2, workers=1, progress=False, focal_scale=1.4)
    cam = read_calib(root / "training" / "calib" / "0000.txt", 96, 32)
    assert cam.fx == pytest.approx(KITTI_FOCAL * 96 / 1242 * 1.4)
    ds = build_dataset(
        DataConfig(source="synthetic", root=str(root), target="depth", size=(16, 48)), "all", cache=False
    )
    assert ds.scale.focal == pytest.approx(KITTI_FOCAL * 96 / 1242 * 1.4) and ds.scale.reference_width == 96
    with pytest.raises(ValueError, match="other settings"):
        generate_synthetic(root, 2, size=(32, 96), sequence_length=2, workers=1, progress=False)
    with pytest.raises(ValueError, match="focal scale"):
        generate_synthetic(tmp_path / "bad", 2, size=(32, 96), workers=1, progress=False, focal_scale=0.0)
    assert not (tmp_path / "bad").exists()
    # a set rendered before the option existed (no focal_scale in its manifest) is KITTI's focal: kept
    old = tmp_path / "old"
    generate_synthetic(old, 2, size=(32, 96), sequence_length=2, workers=1, progress=False)
    manifest = old / "synthetic.json"
    info = json.loads(manifest.read_text())
    del info["settings"]["focal_scale"]
    manifest.write_text(json.dumps(info))
    generate_synthetic(old, 2, size=(32, 96), sequence_length=2, workers=1, progress=False)

"""KITTI calibration readers (object, raw, tracking) and lidar projection into the left image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.data.kitti_calib import (
    StereoCalibration,
    read_calib_file,
    read_object_calib,
    read_raw_calib,
    read_tracking_calib,
)
from ssrdepth.data.kitti_lidar import lidar_depth_map, project_lidar, read_velodyne

# KITTI raw 2011_09_26: rectified cameras 2 and 3 and the velodyne extrinsics, as the files state them.
P_RECT_02 = "7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03"
P_RECT_03 = "7.215377e+02 0.000000e+00 6.095593e+02 -3.395242e+02 0.000000e+00 7.215377e+02 1.728540e+02 2.199936e+00 0.000000e+00 0.000000e+00 1.000000e+00 2.729905e-03"
R_RECT_00 = "9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 7.402527e-03 4.351614e-03 9.999631e-01"
VELO_R = "7.533745e-03 -9.999714e-01 -6.166020e-04 1.480249e-02 7.280733e-04 -9.998902e-01 9.998621e-01 7.523790e-03 1.480755e-02"
VELO_T = "-4.069766e-03 -7.631618e-02 -2.717806e-01"
# Baseline by hand: (44.85728 − (−339.5242)) / 721.5377 = 0.532719 m.
RAW_BASELINE = (44.85728 + 339.5242) / 721.5377


def test_raw_calibration(tmp_path: Path) -> None:
    (tmp_path / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
        f"R_rect_00: {R_RECT_00}\nS_rect_02: 1.242000e+03 3.750000e+02\n"
        f"P_rect_02: {P_RECT_02}\nP_rect_03: {P_RECT_03}\n"
    )
    (tmp_path / "calib_velo_to_cam.txt").write_text(
        f"calib_time: 15-Mar-2012 11:37:16\nR: {VELO_R}\nT: {VELO_T}\ndelta_f: 0.0 0.0\n"
    )
    calib = read_raw_calib(tmp_path / "calib_cam_to_cam.txt")  # finds calib_velo_to_cam.txt beside it
    assert calib.focal == pytest.approx(721.5377)
    assert calib.principal_point == pytest.approx((609.5593, 172.854))
    assert calib.baseline == pytest.approx(RAW_BASELINE, rel=1e-9)
    assert calib.image_size == (375, 1242)
    assert calib.velo_to_cam is not None
    np.testing.assert_allclose(calib.velo_to_cam[:, 3], [-4.069766e-03, -7.631618e-02, -2.717806e-01])
    assert calib.velo_to_cam[0, 1] == pytest.approx(-9.999714e-01)
    assert read_raw_calib(tmp_path / "calib_cam_to_cam.txt", None).velo_to_cam is not None


def test_tracking_calibration_keys_without_colons(tmp_path: Path) -> None:
    r, t = np.array(VELO_R.split(), float).reshape(3, 3), np.array(VELO_T.split(), float)
    tr = " ".join(f"{x:.6e}" for x in np.hstack([r, t[:, None]]).ravel())
    path = tmp_path / "0003.txt"
    path.write_text(
        f"P0: {P_RECT_02}\nP1: {P_RECT_03}\nP2: {P_RECT_02}\nP3: {P_RECT_03}\n"
        f"R_rect {R_RECT_00}\nTr_velo_cam {tr}\nTr_imu_velo {tr}\n"
    )
    calib = read_tracking_calib(path)
    assert calib.baseline == pytest.approx(RAW_BASELINE, rel=1e-9)
    assert calib.R0_rect[0, 1] == pytest.approx(9.837760e-03)
    assert calib.velo_to_cam is not None and calib.velo_to_cam[2, 3] == pytest.approx(-2.717806e-01)


def test_calibration_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        read_object_calib(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text(f"P2: {P_RECT_02}\nP3: 1 2 3\nR0_rect: {R_RECT_00}\n")
    with pytest.raises(ValueError, match=r"bad.txt: P3 has 3 values, expected 12"):
        read_object_calib(bad)
    bad.write_text(f"P2: {P_RECT_02}\n")  # one camera: P3 and R0_rect are needed only by stereo / lidar
    assert read_object_calib(bad).P3 is None
    bad.write_text(f"P3: {P_RECT_02}\n")
    with pytest.raises(ValueError, match=r"bad\.txt: missing P2"):
        read_object_calib(bad)
    assert read_calib_file(bad)["P3"].shape == (12,)


@pytest.mark.shared_data
def test_object_calibration(shared_data: Path) -> None:
    calib = read_object_calib(shared_data / "kitti_object/training/calib/000001.txt")
    # From the file: P2[0,3] = 44.85728, P3[0,3] = −339.5242, f = 721.5377 → B = 0.532719 m.
    assert calib.focal == pytest.approx(721.5377)
    assert calib.baseline == pytest.approx(RAW_BASELINE, rel=1e-6)
    assert calib.velo_to_cam is not None and calib.velo_to_cam.shape == (3, 4)


def simple_calibration() -> StereoCalibration:
    """f = 100 px, (cx, cy) = (50, 40), unrectified = rectified, KITTI's velodyne axes
    (x forward, y left, z up) → camera axes (x right, y down, z forward)."""
    p2 = np.array([[100.0, 0, 50, 0], [0, 100, 40, 0], [0, 0, 1, 0]])
    p3 = p2.copy()
    p3[0, 3] = -100 * 0.5
    velo = np.array([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]])
    return StereoCalibration(P2=p2, P3=p3, R0_rect=np.eye(3), velo_to_cam=velo)


def test_lidar_projection_by_hand() -> None:
    calib = simple_calibration()
    points = np.array(
        [
            [10.0, 2.0, -1.0, 0.5],  # camera (−2, 1, 10): u = 100·(−2)/10 + 50 = 30, v = 100·1/10 + 40 = 50
            [20.0, 4.0, -2.0, 0.5],  # same ray, farther: hidden behind the first in the depth map
            [-5.0, 0.0, 0.0, 0.5],  # behind the camera
            [10.0, -20.0, 0.0, 0.5],  # u = 100·20/10 + 50 = 250: right of a 100-px-wide image
            [4.0, 0.0, 0.0, 0.5],  # straight ahead: the principal point (50, 40), 4 m
        ]
    )
    uv, depth = project_lidar(points, calib, (80, 100))
    np.testing.assert_allclose(uv, [[30, 50], [30, 50], [50, 40]])
    np.testing.assert_allclose(depth, [10, 20, 4])
    depth_map = lidar_depth_map(points, calib, (80, 100))
    assert depth_map[50, 30] == 10.0 and depth_map[40, 50] == 4.0
    assert np.count_nonzero(depth_map) == 2
    assert calib.baseline == pytest.approx(0.5)


def test_velodyne_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="velodyne scan not found"):
        read_velodyne(tmp_path / "000000.bin")
    np.arange(6, dtype=np.float32).tofile(tmp_path / "bad.bin")
    with pytest.raises(ValueError, match="not a whole number"):
        read_velodyne(tmp_path / "bad.bin")


@pytest.mark.shared_data
def test_lidar_lands_on_kitti_images_with_plausible_depth(shared_data: Path) -> None:
    """All 7 shared KITTI object frames: the scan covers ~4 % of the pixels (measured 4.0–4.5 %),
    only below the top quarter of the image (the lidar looks at most 2° up), with depths of 2–80 m
    (measured 2.23–79.67 m), nearer at the bottom of the image (the road) than at the horizon."""
    root = shared_data / "kitti_object/training"
    for calib_path in sorted((root / "calib").glob("*.txt")):
        frame = calib_path.stem
        image = cv2.imread(str(root / "image_2" / f"{frame}.png"))
        calib = read_object_calib(calib_path)
        points = read_velodyne(root / "velodyne" / f"{frame}.bin")
        assert points.shape[1] == 4 and len(points) > 100_000
        depth = lidar_depth_map(points, calib, image.shape[:2])
        known = depth > 0
        values = depth[known]
        print(
            f"\nframe {frame}: {known.mean() * 100:.2f} % of pixels, {values.min():.2f}–{values.max():.2f} m"
        )
        assert 0.03 < known.mean() < 0.06
        assert values.min() >= 2.0 and values.max() <= 80.0
        assert not known[: image.shape[0] // 4].any()
        rows = np.nonzero(known)[0]
        assert np.median(depth[known][rows > image.shape[0] - 40]) < np.median(values)

        # Second implementation of the chain for a sample of points: rotate, translate, rectify,
        # project with P2, divide; compare with the pixel each point was drawn at.
        xyz = points[::97, :3].astype(np.float64)
        cam = xyz @ calib.velo_to_cam[:, :3].T + calib.velo_to_cam[:, 3]  # type: ignore[index]
        rect = cam @ calib.R0_rect.T
        pix = np.hstack([rect, np.ones((len(rect), 1))]) @ calib.P2.T
        z = pix[:, 2]
        u, v = pix[:, 0] / z, pix[:, 1] / z
        h, w = image.shape[:2]
        keep = (z > 0.1) & (u >= -0.5) & (u < w - 0.5) & (v >= -0.5) & (v < h - 0.5)
        assert keep.sum() > 50
        uv, zz = project_lidar(points[::97], calib, (h, w))
        np.testing.assert_allclose(uv, np.stack([u[keep], v[keep]], axis=1), atol=1e-6)
        np.testing.assert_allclose(zz, z[keep], rtol=1e-9)
        drawn = depth[np.rint(v[keep]).astype(int), np.rint(u[keep]).astype(int)]
        assert np.all(drawn <= z[keep] + 1e-4)  # the nearest point of each pixel is drawn

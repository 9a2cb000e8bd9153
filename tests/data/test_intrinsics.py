"""Where the focal length comes from: --focal, --fov, calibration files (KITTI, OpenCV, ROS, JSON), EXIF
(on JPEG files written here with Pillow), their errors and their precedence — values worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssrdepth.data.intrinsics import (
    CameraOptions,
    Intrinsics,
    exif_intrinsics,
    read_calib,
    resolve_intrinsics,
)

KITTI_P2 = "721.5377 0.0 609.5593 44.85728 0.0 721.5377 172.854 0.2163791 0.0 0.0 1.0 0.002745884"
KITTI_P3 = "721.5377 0.0 609.5593 -339.5242 0.0 721.5377 172.854 2.199936 0.0 0.0 1.0 0.002729905"


def jpeg(path: Path, w: int, h: int, tags: dict[int, object], exif_ifd: bool = False) -> Path:
    """A grey JPEG with the EXIF ``tags`` (in IFD0, or in the Exif sub-IFD as cameras write them)."""
    exif = Image.Exif()
    target = exif.get_ifd(0x8769) if exif_ifd else exif
    for tag, value in tags.items():
        target[tag] = value
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(path, exif=exif)
    return path


def test_focal_and_fov_by_hand() -> None:
    cam = Intrinsics.from_fov(90.0, 200, 100)  # fx = 100 / tan(45°) = 100
    assert cam.fx == pytest.approx(100.0) and cam.fy == pytest.approx(100.0)
    assert (cam.cx, cam.cy) == (100.0, 50.0)
    assert Intrinsics.from_fov(60.0, 300, 200).fx == pytest.approx(150 / 0.5773502691896258)
    half = Intrinsics(500.0, 510.0, 320.0, 240.0, 640, 480, "x").at_width(320)
    assert half.as_tuple() == pytest.approx((250.0, 255.0, 160.0, 120.0))
    assert (half.width, half.height) == (320, 240)
    with pytest.raises(ValueError, match="--fov"):
        Intrinsics.from_fov(180.0, 100, 100)
    with pytest.raises(ValueError, match="positive"):
        Intrinsics.from_focal(-3.0, 100, 100)


def test_exif_35mm_equivalent(tmp_path: Path) -> None:
    # 3:2 frame: fx = W · f35 / 36 = 300 · 50 / 36
    cam = exif_intrinsics(jpeg(tmp_path / "a.jpg", 300, 200, {0xA405: 50}))
    assert cam is not None and cam.fx == pytest.approx(416.6667, abs=1e-3)
    assert (cam.cx, cam.cy, cam.width, cam.height) == (150.0, 100.0, 300, 200)
    assert "FocalLengthIn35mmFilm" in cam.source
    # 4:3 frame, tag in the Exif IFD: on the diagonal, 26 mm · 500 px / 43.2666 mm = 300.46 px
    cam = exif_intrinsics(jpeg(tmp_path / "b.jpg", 400, 300, {0xA405: 26}, exif_ifd=True))
    assert cam is not None and cam.fx == pytest.approx(300.462, abs=1e-2)
    # orientation 6 (rotated 90°): the image is read 200 wide, 300 high; same focal in px
    cam = exif_intrinsics(jpeg(tmp_path / "c.jpg", 300, 200, {0xA405: 50, 0x0112: 6}))
    assert cam is not None and (cam.width, cam.height, cam.cx) == (200, 300, 100.0)
    assert cam.fx == pytest.approx(416.6667, abs=1e-3)


def test_exif_focal_length_needs_the_sensor(tmp_path: Path) -> None:
    path = jpeg(tmp_path / "f.jpg", 640, 480, {0x920A: 4.0}, exif_ifd=True)
    assert exif_intrinsics(path) is None  # mm without a sensor width: unknown
    cam = exif_intrinsics(path, sensor_width_mm=6.4)  # 4 mm · 640 px / 6.4 mm
    assert cam is not None and cam.fx == pytest.approx(400.0)
    # focal-plane resolution: 100 px per mm (unit 4) at the original 640 px → 4 mm · 100 = 400 px
    res = jpeg(tmp_path / "r.jpg", 640, 480, {0x920A: 4.0, 0xA20E: 100.0, 0xA210: 4, 0xA002: 640}, True)
    cam = exif_intrinsics(res)
    assert cam is not None and cam.fx == pytest.approx(400.0)
    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plain)
    assert exif_intrinsics(plain) is None


def test_kitti_calib_files(tmp_path: Path) -> None:
    obj = tmp_path / "000001.txt"
    obj.write_text(f"P0: {KITTI_P2}\nP2: {KITTI_P2}\nP3: {KITTI_P3}\nR0_rect: 1 0 0 0 1 0 0 0 1\n")
    cam = read_calib(obj, 1242, 375)  # no size in the file: the image's
    assert cam.as_tuple() == pytest.approx((721.5377, 721.5377, 609.5593, 172.854))
    assert "(P2)" in cam.source and str(obj) in cam.source
    raw = tmp_path / "calib_cam_to_cam.txt"
    raw.write_text(
        "calib_time: 09-Jan-2012 13:57:47\nS_rect_02: 1.242000e+03 3.750000e+02\n"
        f"P_rect_02: {KITTI_P2}\nP_rect_03: {KITTI_P3}\n"
    )
    cam = resolve_intrinsics(CameraOptions(calib=raw), 621, 188)  # the file says 1242 wide: halved
    assert cam is not None and cam.fx == pytest.approx(721.5377 / 2)
    assert "P_rect_02" in cam.source
    bad = tmp_path / "other.txt"
    bad.write_text("R0_rect: 1 0 0 0 1 0 0 0 1\n")
    with pytest.raises(ValueError, match=r"other\.txt.*P2"):
        read_calib(bad, 100, 100)


def test_opencv_ros_and_json_files(tmp_path: Path) -> None:
    ocv = tmp_path / "cam.yaml"
    ocv.write_text(
        "%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\ncamera_matrix: !!opencv-matrix\n"
        "   rows: 3\n   cols: 3\n   dt: d\n   data: [ 6.0e+02, 0., 3.2e+02, 0., 6.1e+02, 2.4e+02, 0., 0., 1. ]\n"
    )
    assert read_calib(ocv).as_tuple() == pytest.approx((600.0, 610.0, 320.0, 240.0))
    manager = tmp_path / "ros1.yml"  # camera_info_manager's file
    manager.write_text(
        "image_width: 1280\nimage_height: 720\ncamera_name: front\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
        "  data: [900.5, 0, 640, 0, 901, 360, 0, 0, 1]\ndistortion_model: plumb_bob\n"
    )
    cam = read_calib(manager)
    assert (cam.fx, cam.width, cam.height) == (900.5, 1280, 720)
    ros2 = tmp_path / "info.yaml"  # a CameraInfo message (ROS 2: lower-case k)
    ros2.write_text(
        "header:\n  frame_id: cam\nheight: 480\nwidth: 640\nd: [0.0, 0.0, 0.0, 0.0, 0.0]\n"
        "k: [500.0, 0.0, 321.0, 0.0, 502.0, 241.0, 0.0, 0.0, 1.0]\n"
    )
    cam = resolve_intrinsics(CameraOptions(calib=ros2), 320, 240)
    assert cam is not None and cam.as_tuple() == pytest.approx((250.0, 251.0, 160.5, 120.5))
    js = tmp_path / "cam.json"
    js.write_text(json.dumps({"K": [[700, 0, 300], [0, 700, 200], [0, 0, 1]], "image_width": 600}))
    assert read_calib(js).fx == 700.0


def test_calib_errors_name_the_file_and_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        read_calib(tmp_path / "nope.yaml")
    no_width = tmp_path / "k.yaml"
    no_width.write_text("K: [500, 0, 320, 0, 500, 240, 0, 0, 1]\n")
    with pytest.raises(ValueError, match=r"k\.yaml.*image_width"):
        read_calib(no_width)
    no_k = tmp_path / "w.json"
    no_k.write_text(json.dumps({"image_width": 640, "dist": [0, 0]}))
    with pytest.raises(ValueError, match=r"w\.json.*camera_matrix or K"):
        read_calib(no_k)
    short = tmp_path / "s.json"
    short.write_text(json.dumps({"K": [1, 2, 3], "width": 640}))
    with pytest.raises(ValueError, match="3×3"):
        read_calib(short)
    broken = tmp_path / "b.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"b\.json.*JSON"):
        read_calib(broken)
    with pytest.raises(FileNotFoundError, match=r"--calib .*nope\.txt"):
        CameraOptions(calib=tmp_path / "nope.txt").check()


def test_precedence(tmp_path: Path) -> None:
    calib = tmp_path / "c.json"
    calib.write_text(json.dumps({"K": [800, 0, 400, 0, 800, 300, 0, 0, 1], "image_width": 800}))
    photo = jpeg(tmp_path / "p.jpg", 360, 240, {0xA405: 36})  # fx = 360 · 36 / 36 = 360
    every = CameraOptions(focal=123.0, calib=calib, fov=90.0)
    assert resolve_intrinsics(every, 400, 300, photo).fx == 123.0  # type: ignore[union-attr]
    both = CameraOptions(intrinsics=(10.0, 20.0, 5.0, 6.0), focal=40.0)
    cam = resolve_intrinsics(both, 400, 300)
    assert cam is not None and cam.as_tuple() == (40.0, 80.0, 5.0, 6.0)
    assert resolve_intrinsics(CameraOptions(calib=calib, fov=90.0), 400, 300, photo).fx == 400.0  # type: ignore[union-attr]
    assert resolve_intrinsics(CameraOptions(fov=90.0), 400, 300, photo).fx == pytest.approx(200.0)  # type: ignore[union-attr]
    exif = resolve_intrinsics(CameraOptions(), 360, 240, photo)
    assert exif is not None and exif.fx == pytest.approx(360.0) and exif.source.startswith("EXIF")
    assert resolve_intrinsics(CameraOptions(exif=False), 360, 240, photo) is None
    assert resolve_intrinsics(CameraOptions(), 360, 240, None) is None


def test_imports_without_torch() -> None:
    code = "import sys, ssrdepth.data.intrinsics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""Alignment to what a user has (:mod:`ssrdepth.inference.align`): known scales, shifts and camera
heights recovered from frames made here; the readers and their errors; ``predict --align`` end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main as cli
from ssrdepth.data.config import TargetScale
from ssrdepth.data.kitti_lidar import lidar_depth_map, read_velodyne
from ssrdepth.data.synthetic import make_scene, render_views
from ssrdepth.data.synthetic.camera import Camera
from ssrdepth.inference.align import (
    KITTI_CAMERA_HEIGHT,
    Alignment,
    AlignRequest,
    SparsePoints,
    align_depth,
    fit_camera_height,
    fit_scale,
    fit_scale_shift_inverse,
    read_calibration,
    read_points,
    read_points_csv,
    read_points_png,
    read_points_velodyne,
)
from ssrdepth.inference.outputs import read_ply, read_png16

from .conftest import MakeCheckpoint, write_image

SIZE = (94, 310)  # (H, W): a quarter of KITTI's frame


@pytest.fixture(scope="module")
def street() -> tuple[np.ndarray, Camera, float]:
    """A synthetic street frame: exact depth (m, 0 = sky), its camera and the camera's height (m)."""
    cam = Camera.kitti_like(SIZE)
    scene = make_scene(0, 0, 1)
    return render_views(0, 0, 0, 1, camera=cam, scene=scene).depth, cam, scene.height


def _points_on(depth: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pixels (u, v) where ``depth`` is known, and the depth there."""
    rows, cols = np.nonzero(depth > 0)
    pick = np.random.default_rng(seed).choice(len(rows), n, replace=False)
    return np.stack([cols[pick], rows[pick]], axis=1).astype(np.float64), depth[rows[pick], cols[pick]]


def test_scale_from_50_exact_points_with_outliers(street: tuple[np.ndarray, Camera, float]) -> None:
    depth = street[0]
    rng = np.random.default_rng(3)
    # The prediction: truth / 1.7 with 1 % noise per pixel; invalid where the truth is (sky).
    pred = np.where(depth > 0, depth / 1.7 * (1 + 0.01 * rng.standard_normal(depth.shape)), 0.0)
    uv, known = _points_on(depth, 50, seed=4)
    known = known.astype(np.float64)
    known[:10] *= np.array([3.0, 0.3] * 5)  # 10 wrong points (a reflection, a mistyped value)
    al = fit_scale(pred, SparsePoints(uv, known, "test points"))
    assert al.mode == "scale" and al.shift == 0.0
    assert abs(al.scale / 1.7 - 1) < 0.005
    assert al.points == 50 and al.inliers == 40
    # The 40 good points sit within the noise: their median relative error is about 1 % × 0.67.
    assert al.residual < 0.02
    np.testing.assert_allclose(al.apply(pred), np.where(depth > 0, pred * al.scale, 0.0), rtol=1e-6)


def test_scale_shift_in_inverse_depth_recovers_a_and_b(street: tuple[np.ndarray, Camera, float]) -> None:
    depth = street[0]
    a, b = 0.8, 0.01  # 1/depth = a / pred + b (b in 1/m)
    valid = (depth > 0) & (depth < 60)
    pred = np.where(valid, a / (1.0 / np.where(valid, depth, 1.0) - b), 0.0)
    uv, known = _points_on(np.where(valid, depth, 0.0), 50, seed=5)
    known = known.astype(np.float64)
    known[:8] *= 2.5  # outliers
    al = fit_scale_shift_inverse(pred, SparsePoints(uv, known, "test points"))
    assert al.mode == "scale-shift"
    assert al.scale == pytest.approx(a, rel=1e-4) and al.shift == pytest.approx(b, abs=1e-5)
    assert al.inliers == 42 and al.residual < 1e-4
    # The aligned map is the truth where the prediction is valid.
    np.testing.assert_allclose(al.apply(pred)[valid], depth[valid], rtol=1e-4)


def test_apply_by_hand() -> None:
    pred = np.array([[10.0, 4.0, 0.0]])
    shifted = Alignment("scale-shift", 2.0, 0.1, 0.0, 5, 5, "hand")
    # 1 / (2/10 + 0.1) = 3.333…; 1 / (2/4 + 0.1) = 1.666…; no prediction stays 0.
    np.testing.assert_allclose(shifted.apply(pred), [[10 / 3, 1 / 0.6, 0.0]], rtol=1e-6)
    beyond = Alignment("scale-shift", 1.0, -0.5, 0.0, 5, 5, "hand")
    assert beyond.apply(np.array([[4.0]]))[0, 0] == 0.0  # 1/4 − 1/2 < 0: past infinity, invalid


def test_camera_height_recovers_the_scale(street: tuple[np.ndarray, Camera, float]) -> None:
    depth, cam, height = street
    al = fit_camera_height(depth * 0.5, (cam.focal, cam.focal, cam.cx, cam.cy), height)
    assert al.mode == "camera-height"
    assert abs(al.scale / 2.0 - 1) < 0.03
    assert al.extra["predicted_height_m"] == pytest.approx(height / 2, rel=0.03)
    assert al.extra["ground_tilt_deg"] < 1.0
    # The same through the request, with the focal length only (principal point at the centre):
    # the synthetic camera's principal point is KITTI's, a few pixels off centre.
    aligned, al2 = align_depth(depth * 0.5, AlignRequest(camera_height=height), focal=cam.focal)
    assert abs(al2.scale / 2.0 - 1) < 0.03
    np.testing.assert_allclose(aligned, depth * 0.5 * al2.scale, rtol=1e-6)


def test_camera_height_refuses_a_picture_without_ground() -> None:
    h, w = SIZE
    wall = np.full((h, w), 10.0)  # a wall facing the camera: a vertical plane
    with pytest.raises(ValueError, match="no flat ground"):
        fit_camera_height(wall, (300.0, 300.0, w / 2, h / 2), 1.65)
    with pytest.raises(ValueError, match=r"needs the camera: the photo.s EXIF focal length, or --focal"):
        AlignRequest(camera_height=1.65).fit(wall)


def test_too_few_valid_points_say_why() -> None:
    pred = np.full((20, 30), 5.0)
    pred[10, 10] = 0.0  # no prediction there
    pts = SparsePoints(
        np.array([[2.0, 3.0], [30.0, 5.0], [-1.0, 4.0], [4.0, 4.0], [10.0, 10.0]]),
        np.array([7.0, 7.0, 7.0, -2.0, 7.0]),
        "pts.csv",
    )
    with pytest.raises(ValueError) as exc:
        fit_scale(pred, pts)
    msg = str(exc.value)
    assert "pts.csv: 1 of 5 point(s) valid" in msg and "at least 3" in msg
    assert "2 outside the 30×20 image (e.g. u=30, v=5)" in msg
    assert (
        "1 with a depth that is not a positive number" in msg and "1 where the prediction is invalid" in msg
    )
    four = SparsePoints(np.array([[1.0, 1], [2, 2], [3, 3], [4, 4]]), np.full(4, 6.0), "four")
    assert fit_scale(pred, four).scale == pytest.approx(1.2)
    with pytest.raises(ValueError, match="4 of 4 point\\(s\\) valid, the scale-shift fit needs at least 5"):
        fit_scale_shift_inverse(pred, four)


def test_csv_reader(tmp_path: Path) -> None:
    good = tmp_path / "p.csv"
    good.write_text("# from the tape measure\ndepth, u, v\n12.5,10,20\n\n3,4.5,6\n")
    pts = read_points_csv(good)
    np.testing.assert_array_equal(pts.uv, [[10, 20], [4.5, 6]])
    np.testing.assert_array_equal(pts.depth, [12.5, 3])
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2,3\n")
    np.testing.assert_array_equal(read_points(plain).depth, [3])
    bad = tmp_path / "bad.csv"
    bad.write_text("u,v,depth\n1,2,3\n4,five,6\n")
    with pytest.raises(ValueError, match=re.escape(f"{bad}:3: expected u,v,depth") + ".* got '4,five,6'"):
        read_points_csv(bad)
    short = tmp_path / "short.csv"
    short.write_text("1,2\n")
    with pytest.raises(ValueError, match=re.escape(f"{short}:1: expected u,v,depth")):
        read_points_csv(short)
    empty = tmp_path / "empty.csv"
    empty.write_text("u,v,depth\n")
    with pytest.raises(ValueError, match="no points"):
        read_points_csv(empty)
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        read_points(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"unknown alignment source '\.json'"):
        read_points(tmp_path / "p.json")


def test_sparse_png_reader(tmp_path: Path) -> None:
    codes = np.zeros((20, 30), np.uint16)
    codes[5, 7] = 2560  # 10 m × 256
    codes[19, 29] = 640  # 2.5 m
    path = tmp_path / "sparse.png"
    assert cv2.imwrite(str(path), codes)
    pts = read_points_png(path)
    assert pts.size == (20, 30)
    np.testing.assert_array_equal(pts.uv, [[7, 5], [29, 19]])
    np.testing.assert_array_equal(pts.depth, [10.0, 2.5])
    with pytest.raises(ValueError, match="a 30×20 map, but the image is 40×20"):
        fit_scale(np.ones((20, 40)), pts)


def _calib(path: Path, f: float = 500.0, cx: float = 40.0, cy: float = 30.0) -> Path:
    """A KITTI object calibration: P2 = K [I | 0], R0 = I, velodyne (x fwd, y left, z up) → camera
    (x right, y down, z fwd)."""
    p2 = f"{f} 0 {cx} 0 0 {f} {cy} 0 0 0 1 0"
    velo = "0 -1 0 0 0 0 -1 0 1 0 0 0"
    path.write_text(
        f"P0: {p2}\nP1: {p2}\nP2: {p2}\nP3: {p2}\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: {velo}\n"
    )
    return path


def test_velodyne_reader_and_fit(tmp_path: Path) -> None:
    calib = _calib(tmp_path / "calib.txt")
    # Four points 10 m ahead: pixel u = 40 − 500·y/10, v = 30 − 500·z/10; one behind, one off the image.
    scan = np.array(
        [[10, 0, 0, 1], [10, 0.2, 0, 1], [10, 0, -0.4, 1], [10, -0.6, 0.2, 1], [-5, 0, 0, 1], [10, 5, 0, 1]],
        np.float32,
    )
    path = tmp_path / "scan.bin"
    scan.tofile(path)
    pts = read_points_velodyne(path, calib, (60, 80))
    np.testing.assert_allclose(pts.uv, [[40, 30], [30, 30], [40, 50], [70, 20]], atol=1e-4)
    np.testing.assert_allclose(pts.depth, 10.0, rtol=1e-6)
    assert "of its 6 points, 4 in the image" in pts.source
    request = AlignRequest(path=path, calib=calib)
    aligned, al = align_depth(np.full((60, 80), 4.0), request)
    assert al.scale == pytest.approx(2.5) and al.points == 4
    np.testing.assert_allclose(aligned, 10.0, rtol=1e-6)
    with pytest.raises(ValueError, match="needs its calibration: --align-calib"):
        AlignRequest(path=path)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"cut\.bin: 93 bytes is not a whole number"):
        AlignRequest(path=cut, calib=calib)
    with pytest.raises(FileNotFoundError, match="velodyne scan not found"):
        AlignRequest(path=tmp_path / "none.bin", calib=calib)
    with pytest.raises(ValueError, match="no velodyne → camera transform"):
        (tmp_path / "nolidar.txt").write_text(
            "\n".join(f"{k}: 1 0 0 0 0 1 0 0 0 0 1 0" for k in ("P0", "P1", "P2", "P3"))
            + "\nR0_rect: 1 0 0 0 1 0 0 0 1\n"
        )
        AlignRequest(path=path, calib=tmp_path / "nolidar.txt")


def test_request_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="align to one thing"):
        AlignRequest(points=((1, 2, 3),) * 3, camera_height=1.65)
    with pytest.raises(ValueError, match="unknown --align-mode 'affine'"):
        AlignRequest(camera_height=1.65, mode="affine")
    req = AlignRequest(points=((1, 2, 3),) * 3)
    with pytest.raises(ValueError, match="belong to one image, but 2 images"):
        req.check_inputs(2, 0)
    with pytest.raises(ValueError, match="still images"):
        AlignRequest(camera_height=1.65).check_inputs(0, 1)
    AlignRequest(camera_height=1.65).check_inputs(5, 0)  # the ground fit is made per image


def test_command_aligns_to_a_csv(
    make_checkpoint: MakeCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = make_checkpoint("C", 1, TargetScale("depth", 80.0), constant=0.25)  # 20 m everywhere
    image = tmp_path / "photo.png"
    write_image(image, 40, 64)
    points = tmp_path / "points.csv"
    points.write_text("u,v,depth\n5,5,30\n60,30,30\n20,10,30.3\n40,35,29.7\n")
    out = tmp_path / "out"
    rc = cli(["predict", str(ckpt), str(image), "--out", str(out), "--save", "png16,npy", "--align", str(points),
              "--no-progress", "--backend", "torch"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    depth, meta = read_png16(out / "photo_depth.png")
    np.testing.assert_allclose(depth, 30.0, atol=1 / 256)  # 20 m × 1.5
    assert meta["quantity"] == "depth" and meta["alignment"]["mode"] == "scale"
    assert meta["alignment"]["scale"] == pytest.approx(1.5, rel=1e-3) and meta["alignment"]["points"] == 4
    sidecar = json.loads((out / "photo_depth.npy.json").read_text())
    assert sidecar["alignment"] == meta["alignment"]
    np.testing.assert_allclose(np.load(out / "photo_depth.npy"), 30.0, rtol=1e-3)

    # The point cloud is aligned too: every point 30 m ahead.
    rc = cli(["predict", str(ckpt), str(image), "--out", str(tmp_path / "o3"), "--save", "ply", "--align", str(points),
              "--intrinsics", "50,50,32,20", "--no-progress", "--backend", "torch"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    cloud = json.loads((tmp_path / "o3" / "photo.ply.json").read_text())
    assert cloud["alignment"]["scale"] == pytest.approx(1.5, rel=1e-3)
    np.testing.assert_allclose(read_ply(tmp_path / "o3" / "photo.ply")["z"], 30.0, rtol=1e-3)

    # Known distances on the command line, the inverse-depth fit.
    rc = cli(["predict", str(ckpt), str(image), "--out", str(tmp_path / "o2"), "--save", "npy",
              *[a for p in ("1,1,10", "2,2,10", "3,3,10", "4,4,10", "5,5,10") for a in ("--align-point", p)],
              "--align-mode", "scale-shift", "--no-progress", "--backend", "torch"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    np.testing.assert_allclose(np.load(tmp_path / "o2" / "photo_depth.npy"), 10.0, rtol=1e-3)


def test_command_refuses_bad_alignment_before_writing(
    make_checkpoint: MakeCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = make_checkpoint("C", 1, TargetScale("depth", 80.0), constant=0.25)
    image = tmp_path / "photo.png"
    write_image(image, 40, 64)
    write_image(tmp_path / "other.png", 40, 64)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n1,2\n")
    out = tmp_path / "out"
    args = ["predict", str(ckpt), str(image), "--out", str(out), "--no-progress", "--backend", "torch"]
    assert cli([*args, "--align", str(bad)]) == 2
    assert f"{bad}:2: expected u,v,depth" in capsys.readouterr().err
    assert not out.exists()  # refused before the model ran
    outside = tmp_path / "outside.csv"
    outside.write_text("5,5,30\n64,5,30\n70,80,30\n")
    assert cli([*args, "--align", str(outside)]) == 2
    err = capsys.readouterr().err
    assert "1 of 3 point(s) valid" in err and "2 outside the 64×40 image (e.g. u=64, v=5)" in err
    assert not list(out.glob("*.png"))  # nothing written for the image
    two = ["predict", str(ckpt), str(image), str(tmp_path / "other.png"), "--out", str(out), "--no-progress"]
    assert cli([*two, *("--align-point", "1,1,5", "--align-point", "2,2,5", "--align-point", "3,3,5")]) == 2
    assert "belong to one image, but 2 images" in capsys.readouterr().err
    assert cli([*args, "--camera-height", "1.65"]) == 2
    assert "--camera-height needs the camera" in capsys.readouterr().err
    assert cli([*args, "--align-point", "1,1", "--align-point", "2,2,5", "--align-point", "3,3,5"]) == 2
    assert "--align-point: expected 3 comma-separated numbers, got '1,1'" in capsys.readouterr().err


@pytest.mark.shared_data
def test_ground_fit_on_real_lidar_gives_kittis_camera_height(shared_data: Path) -> None:
    """The lidar's own road on the 7 real KITTI frames (half the depth as the "prediction"): the camera is
    1.65 m above it (Geiger et al. 2013), so the scale is 2 — each frame within 8 % (real roads slope and
    the car pitches; measured 1.93–2.14), their median within 2 % (measured 2.006)."""
    root = shared_data / "kitti_object" / "training"
    scales = []
    for image in sorted((root / "image_2").glob("*.png")):
        calib = read_calibration(root / "calib" / f"{image.stem}.txt")
        h, w = cv2.imread(str(image)).shape[:2]
        lidar = lidar_depth_map(read_velodyne(root / "velodyne" / f"{image.stem}.bin"), calib, (h, w))
        p2 = calib.P2
        al = fit_camera_height(lidar * 0.5, (p2[0, 0], p2[1, 1], p2[0, 2], p2[1, 2]), KITTI_CAMERA_HEIGHT)
        assert abs(al.scale / 2 - 1) < 0.08, (image.name, al)
        scales.append(al.scale)
    assert len(scales) == 7
    assert abs(float(np.median(scales)) / 2 - 1) < 0.02

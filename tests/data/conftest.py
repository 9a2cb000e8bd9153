"""Miniature data trees in the official layouts, written by the tests themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

SIZE = (24, 80)  # (H, W) of the miniature images
FOCAL, BASELINE = 50.0, 0.5


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return path


def noise_image(seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def projection(focal: float, tx: float, cx: float = 40.0, cy: float = 12.0) -> np.ndarray:
    """A rectified KITTI projection P = K [I | t], tx in metres."""
    return np.array([[focal, 0, cx, focal * tx], [0, focal, cy, 0], [0, 0, 1, 0]], np.float64)


def fmt(m: np.ndarray) -> str:
    return " ".join(f"{v:.12e}" for v in np.ravel(m))


def object_calib(focal: float = FOCAL, baseline: float = BASELINE) -> str:
    # Camera 2 sits 0.06 m left of camera 0 as in KITTI, camera 3 `baseline` to its right.
    p2, p3 = projection(focal, 0.06), projection(focal, 0.06 - baseline)
    velo = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]], np.float64)
    return (
        f"P0: {fmt(projection(focal, 0))}\nP1: {fmt(projection(focal, -baseline))}\n"
        f"P2: {fmt(p2)}\nP3: {fmt(p3)}\nR0_rect: {fmt(np.eye(3))}\nTr_velo_to_cam: {fmt(velo)}\n"
        f"Tr_imu_to_velo: {fmt(np.hstack([np.eye(3), np.zeros((3, 1))]))}\n"
    )


def tracking_calib(focal: float = FOCAL, baseline: float = BASELINE) -> str:
    velo = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]], np.float64)
    return (
        f"P0: {fmt(projection(focal, 0))}\nP1: {fmt(projection(focal, -baseline))}\n"
        f"P2: {fmt(projection(focal, 0.06))}\nP3: {fmt(projection(focal, 0.06 - baseline))}\n"
        f"R_rect {fmt(np.eye(3))}\nTr_velo_cam {fmt(velo)}\n"
    )


def raw_calib(focal: float = FOCAL, baseline: float = BASELINE) -> str:
    return (
        "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
        f"S_rect_02: {SIZE[1]} {SIZE[0]}\nR_rect_00: {fmt(np.eye(3))}\n"
        f"P_rect_02: {fmt(projection(focal, 0.06))}\nP_rect_03: {fmt(projection(focal, 0.06 - baseline))}\n"
    )


@pytest.fixture
def tracking_tree(tmp_path: Path) -> Callable[..., Path]:
    """``make(sequences={"0000": 3, "0001": 2}, focal=…)`` → a KITTI tracking root."""

    def make(
        sequences: dict[str, int] | None = None, focal: float = FOCAL, baseline: float = BASELINE
    ) -> Path:
        root = tmp_path / "tracking"
        seed = 0
        for seq, n in (sequences or {"0000": 3, "0001": 2}).items():
            (root / "training" / "calib").mkdir(parents=True, exist_ok=True)
            (root / "training" / "calib" / f"{seq}.txt").write_text(tracking_calib(focal, baseline))
            for k in range(n):
                for cam in ("image_02", "image_03"):
                    write_png(root / "training" / cam / seq / f"{k:06d}.png", noise_image(seed))
                    seed += 1
        return root

    return make


@pytest.fixture
def raw_tree(tmp_path: Path) -> Path:
    """KITTI raw: two drives of one date, 2 frames each."""
    root = tmp_path / "raw"
    date = root / "2011_09_26"
    date.mkdir(parents=True)
    (date / "calib_cam_to_cam.txt").write_text(raw_calib(60.0, 0.54))
    seed = 100
    for drive in ("2011_09_26_drive_0001_sync", "2011_09_26_drive_0002_sync"):
        for k in range(2):
            for cam in ("image_02", "image_03"):
                write_png(date / drive / cam / "data" / f"{k:010d}.png", noise_image(seed))
                seed += 1
    return root


@pytest.fixture
def object_tree(tmp_path: Path) -> Path:
    """KITTI object: 3 frames with image_2, image_3, calib and a 2-point velodyne scan each."""
    root = tmp_path / "object"
    t = root / "training"
    (t / "calib").mkdir(parents=True)
    (t / "velodyne").mkdir(parents=True)
    for k in range(3):
        write_png(t / "image_2" / f"{k:06d}.png", noise_image(200 + k))
        write_png(t / "image_3" / f"{k:06d}.png", noise_image(300 + k))
        (t / "calib" / f"{k:06d}.txt").write_text(object_calib())
        # Velodyne (x fwd, y left, z up): a point 10 m ahead on the axis, one 5 m ahead 1 m left.
        np.array([[10.0, 0.06, 0.0, 1.0], [5.0, 1.06, 0.0, 1.0]], np.float32).tofile(
            t / "velodyne" / f"{k:06d}.bin"
        )
    return root

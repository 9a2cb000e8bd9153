"""Velodyne scans → sparse depth in the left image (KITTI's lidar ground truth).

A scan ``NNNNNN.bin`` is float32 ``(N, 4)``: x (forward), y (left), z (up) in metres in the velodyne
frame, and reflectance. Points go to the left rectified image through ``P2 · R0_rect · Tr_velo_to_cam``
(:meth:`StereoCalibration.velo_to_image`); only points in front of the camera and inside the image are
kept, and where several land on one pixel the nearest wins (the others are hidden behind it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssrdepth.data.kitti_calib import StereoCalibration


def read_velodyne(path: str | Path) -> np.ndarray:
    """Read a KITTI velodyne scan → float32 ``(N, 4)``: x, y, z (m), reflectance."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"velodyne scan not found: {path}")
    size = path.stat().st_size
    if size % 16:  # np.fromfile would silently drop a cut-off last point
        raise ValueError(
            f"{path}: {size} bytes is not a whole number of (x, y, z, r) float32 points (16 bytes each); "
            "truncated scan?"
        )
    raw = np.fromfile(path, dtype=np.float32)
    return raw.reshape(-1, 4)


def project_lidar(
    points: np.ndarray, calib: StereoCalibration, size: tuple[int, int], min_depth: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Project velodyne points into the left image of size ``(H, W)``.

    Args:
        points: ``(N, 3+)`` velodyne x, y, z (m) (further columns ignored).
        calib: calibration with ``velo_to_cam``.
        min_depth: points closer than this in front of the camera (m) are dropped.

    Returns:
        ``uv``: float64 ``(M, 2)`` pixel coordinates (u right, v down) of the points inside the image;
        ``depth``: float64 ``(M,)`` their depth along the optical axis of camera 2 (m).
    """
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f"points must be (N, 3) or (N, 4), got shape {points.shape}")
    h, w = size
    homogeneous = np.hstack([points[:, :3].astype(np.float64), np.ones((len(points), 1))])
    projected = homogeneous @ calib.velo_to_image().T  # (N, 3): u·z, v·z, z
    depth = projected[:, 2]
    front = depth > min_depth
    uv = projected[front, :2] / depth[front, None]
    depth = depth[front]
    # A pixel (i, j) covers [j - 0.5, j + 0.5) × [i - 0.5, i + 0.5): round to the nearest centre.
    inside = (uv[:, 0] >= -0.5) & (uv[:, 0] < w - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < h - 0.5)
    return uv[inside], depth[inside]


def lidar_depth_map(
    points: np.ndarray, calib: StereoCalibration, size: tuple[int, int], min_depth: float = 0.1
) -> np.ndarray:
    """Sparse depth map float32 ``(H, W)`` (m, 0 = no point) of a velodyne scan in the left image;
    the nearest point wins where several fall on one pixel."""
    h, w = size
    uv, depth = project_lidar(points, calib, size, min_depth)
    cols = np.clip(np.rint(uv[:, 0]).astype(np.int64), 0, w - 1)
    rows = np.clip(np.rint(uv[:, 1]).astype(np.int64), 0, h - 1)
    out = np.full(h * w, np.inf)
    np.minimum.at(out, rows * w + cols, depth)
    out[~np.isfinite(out)] = 0.0
    return out.reshape(h, w).astype(np.float32)

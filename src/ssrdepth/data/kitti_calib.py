"""KITTI calibration files → one :class:`StereoCalibration` (rectified cameras 2 and 3, lidar).

Three layouts (Geiger et al. 2013, the KITTI devkits):

- object: ``training/calib/NNNNNN.txt`` with ``P0..P3``, ``R0_rect``, ``Tr_velo_to_cam`` (``KEY: values``);
- raw: ``DATE/calib_cam_to_cam.txt`` with ``P_rect_02``, ``P_rect_03``, ``R_rect_00``, ``S_rect_02``
  and ``DATE/calib_velo_to_cam.txt`` with ``R`` (3×3) and ``T`` (3);
- tracking: ``training/calib/SSSS.txt`` with ``P2``, ``P3``, ``R_rect``, ``Tr_velo_cam`` (the colon after
  the key is optional there).

The rectified projection matrices are ``P_i = K [I | t_i]`` in rectified camera-0 coordinates, so
``P_i[0, 3] = f·t_i,x`` and the baseline between cameras 2 and 3 is ``(P2[0, 3] − P3[0, 3]) / f``.

Each entry is required only where it is used: ``P2`` always (the left camera: focal length, principal
point); ``P3`` only for the stereo baseline (stereo targets); ``R0_rect`` and the velodyne transform
only for projecting lidar. A one-camera rig (no ``P3``) reads, and serves lidar or depth targets; an
entry that is present but malformed is refused wherever it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def read_calib_file(path: str | Path) -> dict[str, np.ndarray]:
    """Parse ``KEY: v1 v2 ...`` lines (colon optional) into float64 arrays; lines whose values are not
    all numbers (e.g. ``calib_time: 09-Jan-2012 13:57:47``) are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path}")
    out: dict[str, np.ndarray] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if ":" in line.split(" ", 1)[0]:
            key, _, rest = line.partition(":")
        else:
            key, _, rest = line.partition(" ")
        key = key.strip()
        if not key or not rest.strip():
            continue
        try:
            out[key] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue
    return out


def _matrix(
    values: dict[str, np.ndarray], keys: tuple[str, ...], shape: tuple[int, int], path: Path
) -> np.ndarray:
    for key in keys:
        if key in values:
            v = values[key]
            if v.size != shape[0] * shape[1]:
                raise ValueError(f"{path}: {key} has {v.size} values, expected {shape[0] * shape[1]}")
            return v.reshape(shape)
    raise ValueError(f"{path}: missing {' or '.join(keys)}")


def _optional(
    values: dict[str, np.ndarray], keys: tuple[str, ...], shape: tuple[int, int], path: Path
) -> np.ndarray | None:
    """:func:`_matrix` when one of ``keys`` is present (malformed values still refused), else None."""
    return _matrix(values, keys, shape, path) if any(k in values for k in keys) else None


def _homogeneous(m: np.ndarray) -> np.ndarray:
    """3×3 or 3×4 → 4×4."""
    out = np.eye(4)
    out[: m.shape[0], : m.shape[1]] = m
    return out


@dataclass(frozen=True)
class StereoCalibration:
    """Rectified KITTI colour stereo pair (cameras 2 = left, 3 = right) and, when known, the lidar.

    P2, P3: ``(3, 4)`` rectified projection matrices (px); P3 None for a one-camera rig. R0_rect:
    ``(3, 3)`` rectifying rotation of camera 0, or None when the file has none (only lidar needs it).
    velo_to_cam: ``(3, 4)`` velodyne → camera-0 (unrectified) rigid transform (m), or None.
    image_size: ``(H, W)`` of the rectified images when the file states it, else None.
    """

    P2: np.ndarray
    P3: np.ndarray | None
    R0_rect: np.ndarray | None
    velo_to_cam: np.ndarray | None = None
    image_size: tuple[int, int] | None = None

    @property
    def focal(self) -> float:
        """Horizontal focal length of the left camera (px)."""
        return float(self.P2[0, 0])

    @property
    def principal_point(self) -> tuple[float, float]:
        """(cx, cy) of the left camera (px)."""
        return float(self.P2[0, 2]), float(self.P2[1, 2])

    @property
    def baseline(self) -> float | None:
        """Distance between cameras 2 and 3 (m), from the projection matrices; None without ``P3``
        (a one-camera rig: no stereo)."""
        if self.P3 is None:
            return None
        return float((self.P2[0, 3] - self.P3[0, 3]) / self.P2[0, 0])

    def velo_to_image(self) -> np.ndarray:
        """``(3, 4)`` matrix taking homogeneous velodyne points (m) to homogeneous left-image pixels:
        ``P2 · R0_rect · Tr_velo_to_cam``; the third coordinate is the depth in camera 2 (m).

        Raises:
            ValueError: the velodyne → camera transform or the rectifying rotation is missing.
        """
        if self.velo_to_cam is None:
            raise ValueError("this calibration has no velodyne → camera transform")
        if self.R0_rect is None:
            raise ValueError("this calibration has no rectifying rotation (R0_rect / R_rect) for the lidar")
        return self.P2 @ _homogeneous(self.R0_rect) @ _homogeneous(self.velo_to_cam)


def read_object_calib(path: str | Path) -> StereoCalibration:
    """KITTI object ``calib/NNNNNN.txt`` (``P2``, ``P3``, ``R0_rect``, ``Tr_velo_to_cam``)."""
    path = Path(path)
    v = read_calib_file(path)
    return StereoCalibration(
        P2=_matrix(v, ("P2",), (3, 4), path),
        P3=_optional(v, ("P3",), (3, 4), path),
        R0_rect=_optional(v, ("R0_rect",), (3, 3), path),
        velo_to_cam=_optional(v, ("Tr_velo_to_cam",), (3, 4), path),
    )


def read_tracking_calib(path: str | Path) -> StereoCalibration:
    """KITTI tracking ``calib/SSSS.txt`` (``P2``, ``P3``, ``R_rect``, ``Tr_velo_cam``)."""
    path = Path(path)
    v = read_calib_file(path)
    return StereoCalibration(
        P2=_matrix(v, ("P2",), (3, 4), path),
        P3=_optional(v, ("P3",), (3, 4), path),
        R0_rect=_optional(v, ("R_rect", "R0_rect"), (3, 3), path),
        velo_to_cam=_optional(v, ("Tr_velo_cam", "Tr_velo_to_cam"), (3, 4), path),
    )


def read_raw_calib(cam_to_cam: str | Path, velo_to_cam: str | Path | None = None) -> StereoCalibration:
    """KITTI raw ``calib_cam_to_cam.txt`` (``P_rect_02``, ``P_rect_03``, ``R_rect_00``, ``S_rect_02``) and
    optionally ``calib_velo_to_cam.txt`` (``R``, ``T``); default: the latter beside the former if present."""
    cam_to_cam = Path(cam_to_cam)
    v = read_calib_file(cam_to_cam)
    size = None
    if "S_rect_02" in v and v["S_rect_02"].size == 2:
        w, h = v["S_rect_02"]
        size = (round(h), round(w))
    if velo_to_cam is None and (cam_to_cam.parent / "calib_velo_to_cam.txt").is_file():
        velo_to_cam = cam_to_cam.parent / "calib_velo_to_cam.txt"
    velo = None
    if velo_to_cam is not None:
        velo_path = Path(velo_to_cam)
        vv = read_calib_file(velo_path)
        rotation = _matrix(vv, ("R",), (3, 3), velo_path)
        translation = _matrix(vv, ("T",), (3, 1), velo_path)
        velo = np.hstack([rotation, translation])
    return StereoCalibration(
        P2=_matrix(v, ("P_rect_02",), (3, 4), cam_to_cam),
        P3=_optional(v, ("P_rect_03",), (3, 4), cam_to_cam),
        R0_rect=_optional(v, ("R_rect_00",), (3, 3), cam_to_cam),
        velo_to_cam=velo,
        image_size=size,
    )

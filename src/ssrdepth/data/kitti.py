"""KITTI stereo in its three official layouts, and the synthetic set (which uses the tracking layout).

- tracking (the paper's data): ``training/image_02/SSSS/NNNNNN.png``, ``image_03/…``,
  ``calib/SSSS.txt`` (``P2``/``P3``, ``R_rect``, ``Tr_velo_cam``), optional ``velodyne/SSSS/NNNNNN.bin``;
  split groups = sequences. ``testing/`` is used too when present (keys ``testing/SSSS/NNNNNN``).
- raw: ``DATE/DATE_drive_XXXX_sync/image_02/data/NNNNNNNNNN.png``, ``image_03/data``,
  ``DATE/calib_cam_to_cam.txt`` (``P_rect_02``, ``P_rect_03``), optional ``velodyne_points/data`` with
  ``DATE/calib_velo_to_cam.txt``; groups = drives.
- object: ``training/image_2/NNNNNN.png``, ``image_3``, ``calib/NNNNNN.txt`` (``P2``, ``P3``,
  ``R0_rect``, ``Tr_velo_to_cam``), optional ``velodyne/NNNNNN.bin``; groups = frames.

Calibration is parsed by :mod:`ssrdepth.data.kitti_calib` (``f = P2[0, 0]``, ``B = (P2[0, 3] − P3[0, 3]) / f``)
and lidar projected by :mod:`ssrdepth.data.kitti_lidar` (``P2 · R0_rect · Tr_velo_to_cam``, nearest point
per pixel): the sparse lidar depth is the ``depth`` of a sample and the ``"lidar"`` target.

What a frame must have follows the targets (``need_right``: stereo targets only): right images and
``P3`` (the baseline) are required for stereo targets alone; lidar needs ``R0_rect`` and the velodyne
transform (checked when a scan is projected); a monocular rig with lidar or depth targets needs only
the left images and ``P2``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.units import MAX_BASELINE
from ssrdepth.data.config import DataConfig
from ssrdepth.data.kitti_calib import (
    StereoCalibration,
    read_object_calib,
    read_raw_calib,
    read_tracking_calib,
)
from ssrdepth.data.kitti_lidar import lidar_depth_map, read_velodyne
from ssrdepth.data.sample import (
    BadSampleError,
    Frame,
    Source,
    check_frames,
    image_size,
    read_depth_map,
    require_dir,
    require_frames,
)
from ssrdepth.data.synthetic import DEPTH_SCALE, check_complete

_IMAGE_EXTS = (".png", ".jpg", ".jpeg")

_READERS: dict[str, Callable[[Path], StereoCalibration]] = {
    "object": read_object_calib,
    "tracking": read_tracking_calib,
    "raw": lambda p: read_raw_calib(p),
}


@lru_cache(maxsize=4096)
def load_calib(kind: str, path: Path) -> StereoCalibration:
    """The :class:`StereoCalibration` of a KITTI calibration file (``kind``: object, tracking, raw),
    cached per file; raises :class:`BadSampleError` naming the file when it is missing, lacks ``P2``
    or has a malformed entry. ``P3`` may be missing (one camera: no baseline, see :func:`require_stereo`)."""
    try:
        calib = _READERS[kind](path)
        focal, baseline = calib.focal, calib.baseline
    except (ValueError, FileNotFoundError) as exc:
        raise BadSampleError(path, str(exc).replace(f"{path}: ", "")) from None
    if not focal > 0:
        raise BadSampleError(path, f"invalid focal length {focal} in P2")
    if baseline is not None and not baseline > 0:
        raise BadSampleError(
            path, f"non-positive stereo baseline {baseline:.4f} m from P2/P3 (swapped cameras?)"
        )
    if baseline is not None and baseline > MAX_BASELINE:  # P[0, 3] = f·t with t in millimetres
        p3 = _P3_NAMES[kind]
        raise BadSampleError(
            path,
            f"stereo baseline {baseline:g} m from P2/{p3} is no camera rig (KITTI's: 0.54 m): the "
            f"translations P[0, 3] = f·t must have t in metres, not millimetres (divide {p3}[0, 3] and "
            "P2[0, 3] by 1000)",
        )
    return calib


_P3_NAMES = {"object": "P3", "tracking": "P3", "raw": "P_rect_03"}


def require_stereo(calib: StereoCalibration, kind: str, path: Path) -> StereoCalibration:
    """``calib`` when it has camera 3's projection (stereo targets need the baseline); else a
    :class:`BadSampleError` naming the file, the missing entry and the targets that need none."""
    if calib.P3 is None:
        raise BadSampleError(
            path,
            f"missing {_P3_NAMES[kind]} (camera 3's projection): stereo targets need it for the baseline; "
            "for a one-camera rig use lidar or depth targets (--target lidar / data.target)",
        )
    return calib


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXTS) if folder.is_dir() else []


def check_geometry(calib: StereoCalibration, calib_path: Path, image: Path) -> None:
    """Refuse a calibration that cannot be the one of ``image``: a stated image size (raw
    ``S_rect_02``) other than the image's, or a principal point outside the image."""
    h, w = image_size(image)
    if calib.image_size is not None and calib.image_size != (h, w):
        ch, cw = calib.image_size
        raise BadSampleError(
            calib_path, f"states rectified images of {cw}×{ch} (S_rect_02) but {image} is {w}×{h}"
        )
    cx, cy = calib.principal_point
    if not (0.0 <= cx < w and 0.0 <= cy < h):
        raise BadSampleError(
            calib_path,
            f"principal point ({cx:g}, {cy:g}) px lies outside the {w}×{h} image {image}; expected the "
            "calibration of these images (another camera, or images resized after calibration?)",
        )


def _check_pair(frame: Frame, kind: str = "object") -> None:
    if not frame.image.is_file():
        raise BadSampleError(frame.image, "left image not found")
    if frame.calib is not None:
        check_geometry(load_calib(kind, frame.calib), frame.calib, frame.image)
    if frame.right is not None and not frame.right.is_file():
        raise BadSampleError(frame.right, f"right image missing for {frame.image}")
    if frame.depth is not None and not frame.depth.is_file():
        raise BadSampleError(frame.depth, f"depth map missing for {frame.image}")


@dataclass
class KittiSource(Source):
    """A KITTI layout (tracking, raw, object) or the synthetic set; see the module docstring."""

    calib_kind: str = "object"

    def meta(self, i: int) -> dict[str, Any]:
        out = super().meta(i)
        if self.depth_kind == "exact":
            out["depth_scale"] = DEPTH_SCALE  # depth PNG: metres × 256
        elif self.depth_kind == "lidar":
            out["velodyne"] = str(self.frames[i].velodyne) if self.frames[i].velodyne else None
        return out

    def depth(self, i: int) -> np.ndarray | None:
        frame = self.frames[i]
        if self.depth_kind == "exact" and frame.depth is not None:
            return read_depth_map(frame.depth, DEPTH_SCALE)
        if self.depth_kind == "lidar":
            return self.lidar(i)
        return None

    def lidar(self, i: int) -> np.ndarray:
        """Sparse lidar depth ``(H, W)`` float32 m in the left image (0 = no point); frames without a
        scan give an all-zero map."""
        frame = self.frames[i]
        size = self.image_size(i)
        if frame.velodyne is None or frame.calib is None:
            return np.zeros(size, np.float32)
        calib = load_calib(self.calib_kind, frame.calib)
        if calib.velo_to_cam is None:
            raise BadSampleError(frame.calib, "no velodyne → camera transform (Tr_velo_to_cam) for the lidar")
        if calib.R0_rect is None:
            raise BadSampleError(frame.calib, "no rectifying rotation (R0_rect / R_rect) for the lidar")
        try:
            points = read_velodyne(frame.velodyne)
        except (ValueError, FileNotFoundError) as exc:
            raise BadSampleError(frame.velodyne, str(exc).replace(f"{frame.velodyne}: ", "")) from None
        depth = lidar_depth_map(points, calib, size)
        if len(points) and not depth.any():
            raise BadSampleError(
                frame.velodyne,
                f"none of its {len(points)} points projects into the {size[1]}×{size[0]} image "
                f"{frame.image} through {frame.calib}; expected the scan and calibration of this frame",
            )
        return depth


def _split_dirs(root: Path) -> list[Path]:
    dirs = [root / d for d in ("training", "testing") if (root / d).is_dir()]
    if not dirs:
        raise FileNotFoundError(f"{root}: no training/ or testing/ folder (expected the KITTI layout)")
    return dirs


def _calib_or_skip(
    kind: str, path: Path, skip_bad: bool, skipped: list[tuple[str, str]], stereo: bool = True
) -> StereoCalibration | None:
    try:
        calib = load_calib(kind, path)
        return require_stereo(calib, kind, path) if stereo else calib
    except BadSampleError as exc:
        if not skip_bad:
            raise
        skipped.append((exc.file, exc.problem))
        return None


def kitti_tracking(
    root: Path,
    skip_bad: bool = False,
    depth_folder: str | None = None,
    name: str = "kitti-tracking",
    need_right: bool = True,
) -> KittiSource:
    """KITTI tracking stereo (``training|testing/image_02|image_03/SSSS/NNNNNN.png``, ``calib/SSSS.txt``,
    optional ``velodyne/SSSS/NNNNNN.bin``).

    ``depth_folder`` (synthetic: ``"depth"``) names a sibling of ``image_02`` holding exact depth PNGs.
    ``need_right=False`` (lidar or depth targets) accepts frames without ``image_03`` and calibrations
    without ``P3``.
    """
    root = Path(root)
    skipped: list[tuple[str, str]] = []
    frames: list[Frame] = []
    has_velodyne = False
    for part in _split_dirs(root):
        require_dir(part / "image_02", "left image folder image_02")
        prefix = "" if part.name == "training" else "testing/"
        for seq_dir in sorted(p for p in (part / "image_02").iterdir() if p.is_dir()):
            seq = seq_dir.name
            calib_path = part / "calib" / f"{seq}.txt"
            calib = _calib_or_skip("tracking", calib_path, skip_bad, skipped, need_right)
            if calib is None:
                continue
            for img in _images(seq_dir):
                velo = part / "velodyne" / seq / f"{img.stem}.bin"
                right = part / "image_03" / seq / img.name
                has_velodyne |= velo.is_file()
                frames.append(
                    Frame(
                        key=f"{prefix}{seq}/{img.stem}",
                        group=f"{prefix}{seq}",
                        image=img,
                        right=right if (need_right or right.is_file()) else None,
                        depth=part / depth_folder / seq / f"{img.stem}.png" if depth_folder else None,
                        velodyne=velo if velo.is_file() else None,
                        calib=calib_path,
                        focal=calib.focal,
                        baseline=calib.baseline,
                    )
                )
    frames = check_frames(frames, lambda f: _check_pair(f, "tracking"), skip_bad, skipped)
    require_frames(frames, root, "KITTI tracking frames (training/image_02/SSSS/NNNNNN.png)")
    kind = "exact" if depth_folder else ("lidar" if has_velodyne else "none")
    return KittiSource(name, root, frames, kind, skipped, calib_kind="tracking")


def kitti_raw(
    root: Path, skip_bad: bool = False, need_right: bool = True, need_lidar: bool = False
) -> KittiSource:
    """KITTI raw (``DATE/DATE_drive_XXXX_sync/image_02/data/*.png``, ``DATE/calib_cam_to_cam.txt``,
    optional ``velodyne_points/data/*.bin`` with ``DATE/calib_velo_to_cam.txt``).

    ``need_right=False`` (lidar or depth targets) accepts frames without ``image_03`` and calibrations
    without ``P_rect_03``. ``need_lidar`` (lidar targets) refuses scans without the
    ``calib_velo_to_cam.txt`` that projects them (otherwise they are left unused).
    """
    root = Path(root)
    require_dir(root, "KITTI raw root")
    skipped: list[tuple[str, str]] = []
    frames: list[Frame] = []
    has_velodyne = False
    for drive in sorted(root.glob("*/*_sync")):
        if not (drive / "image_02" / "data").is_dir():
            continue
        calib_path = drive.parent / "calib_cam_to_cam.txt"
        calib = _calib_or_skip("raw", calib_path, skip_bad, skipped, need_right)
        if calib is None:
            continue
        scans = drive / "velodyne_points" / "data"
        if need_lidar and calib.velo_to_cam is None and scans.is_dir() and any(scans.glob("*.bin")):
            raise BadSampleError(
                drive.parent / "calib_velo_to_cam.txt",
                f"not found: lidar targets need it to project the scans of {drive.name} (R, T)",
            )
        for img in _images(drive / "image_02" / "data"):
            velo = scans / f"{img.stem}.bin"
            use_velo = velo.is_file() and calib.velo_to_cam is not None
            right = drive / "image_03" / "data" / img.name
            has_velodyne |= use_velo
            frames.append(
                Frame(
                    key=f"{drive.name}/{img.stem}",
                    group=drive.name,
                    image=img,
                    right=right if (need_right or right.is_file()) else None,
                    velodyne=velo if use_velo else None,
                    calib=calib_path,
                    focal=calib.focal,
                    baseline=calib.baseline,
                )
            )
    frames = check_frames(frames, lambda f: _check_pair(f, "raw"), skip_bad, skipped)
    require_frames(frames, root, "KITTI raw frames (DATE/DATE_drive_XXXX_sync/image_02/data/*.png)")
    return KittiSource(
        "kitti-raw", root, frames, "lidar" if has_velodyne else "none", skipped, calib_kind="raw"
    )


def kitti_object(root: Path, skip_bad: bool = False, need_right: bool = True) -> KittiSource:
    """KITTI object (``training|testing/image_2|image_3/NNNNNN.png``, ``calib/NNNNNN.txt``, ``velodyne``).

    ``need_right=False`` (lidar or depth targets) accepts frames without ``image_3`` and calibrations
    without ``P3``.
    """
    root = Path(root)
    skipped: list[tuple[str, str]] = []
    frames: list[Frame] = []
    has_velodyne = False
    for part in _split_dirs(root):
        require_dir(part / "image_2", "left image folder image_2")
        prefix = "" if part.name == "training" else "testing/"
        for img in _images(part / "image_2"):
            calib_path = part / "calib" / f"{img.stem}.txt"
            calib = _calib_or_skip("object", calib_path, skip_bad, skipped, need_right)
            if calib is None:
                continue
            velo = part / "velodyne" / f"{img.stem}.bin"
            right = part / "image_3" / img.name
            has_velodyne |= velo.is_file()
            frames.append(
                Frame(
                    key=f"{prefix}{img.stem}",
                    group=f"{prefix}{img.stem}",
                    image=img,
                    right=right if (need_right or right.is_file()) else None,
                    velodyne=velo if velo.is_file() else None,
                    calib=calib_path,
                    focal=calib.focal,
                    baseline=calib.baseline,
                )
            )
    frames = check_frames(frames, _check_pair, skip_bad, skipped)
    require_frames(frames, root, "KITTI object frames (training/image_2/NNNNNN.png)")
    return KittiSource("kitti-object", root, frames, "lidar" if has_velodyne else "none", skipped)


def synthetic(root: Path, skip_bad: bool = False) -> KittiSource:
    """The rendered synthetic set (``ssrdepth generate``): tracking layout + exact depth."""
    root = Path(root)
    check_complete(root)  # an interrupted render is not a data set: refused with the resume command
    return kitti_tracking(root, skip_bad, depth_folder="depth", name="synthetic")


# The loaders of the source table (:data:`ssrdepth.data.config.DATA_SOURCES`): ``(root, cfg) -> Source``.
def synthetic_source(root: Path, cfg: DataConfig) -> KittiSource:
    """The ``synthetic`` source of ``cfg`` (:func:`synthetic`)."""
    return synthetic(root, cfg.skip_bad)


def tracking_source(root: Path, cfg: DataConfig) -> KittiSource:
    """The ``kitti-tracking`` source of ``cfg`` (:func:`kitti_tracking`; right images only for stereo targets)."""
    return kitti_tracking(root, cfg.skip_bad, need_right=cfg.needs_right)


def raw_source(root: Path, cfg: DataConfig) -> KittiSource:
    """The ``kitti-raw`` source of ``cfg`` (:func:`kitti_raw`; right images only for stereo targets)."""
    return kitti_raw(root, cfg.skip_bad, need_right=cfg.needs_right, need_lidar=cfg.target == "lidar")


def object_source(root: Path, cfg: DataConfig) -> KittiSource:
    """The ``kitti-object`` source of ``cfg`` (:func:`kitti_object`; right images only for stereo targets)."""
    return kitti_object(root, cfg.skip_bad, need_right=cfg.needs_right)

"""Metres from what you have: align a predicted depth map to sparse points, known distances or the
camera's height above a flat ground — the one home of ``predict --align`` and its Python API.

Fits (pure functions of a depth map ``(H, W)`` in metres at the image's size, 0 or non-finite =
invalid; each returns an :class:`Alignment`):

- :func:`fit_scale`: ``depth = s · pred``, robust least squares in relative error;
- :func:`fit_scale_shift_inverse`: ``1 / depth = a · (1 / pred) + b``, scale and shift in inverse depth
  (disparity space, what MiDaS / Depth-Anything users fit by hand), robust the same way;
- :func:`fit_camera_height`: the ground plane of the lower image, back-projected with the intrinsics
  and fitted by RANSAC; its distance from the camera centre is the predicted camera height ``h'``, and
  ``s = height_m / h'`` (KITTI's camera is 1.65 m above the road: Geiger et al. 2013, "Vision meets
  robotics: the KITTI dataset", IJRR).

Robust point fits = a least-median-of-squares start over random minimal samples (a fixed seed: the same
points give the same fit), Huber's M-estimate from there (iteratively reweighted least squares on the
relative residuals, σ from the start's median residual), then a plain least-squares refit on the
inliers. Relative residuals make a far point count as much as a near one (lidar and known
distances are good to a fraction of their range, not to a fixed number of metres).

Readers (:func:`read_points`): CSV ``u,v,depth`` (pixels of the input image, metres; header optional),
a sparse 16-bit depth PNG (KITTI ×256, :func:`ssrdepth.data.sample.read_depth_map` and its one codec
:mod:`ssrdepth.core.png16`), a KITTI velodyne scan with its calibration (:mod:`ssrdepth.data.kitti_lidar`,
:mod:`ssrdepth.data.kitti_calib`), and a few known distances (:func:`known_points`).

Imports numpy and ssrdepth's numpy-only readers: usable from the ONNX-only install.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.png16 import KITTI_SCALE
from ssrdepth.data.kitti_calib import StereoCalibration, read_object_calib, read_tracking_calib
from ssrdepth.data.kitti_lidar import project_lidar, read_velodyne
from ssrdepth.data.sample import read_depth_map

logger = logging.getLogger(__name__)

#: Fits: the two point fits and the ground-plane fit.
MODES = ("scale", "scale-shift")
#: Fewest valid points each point fit accepts (unknowns + a check on them).
MIN_POINTS = {"scale": 3, "scale-shift": 5}
#: KITTI's camera height above the road (m): Geiger et al. 2013, the recording platform.
KITTI_CAMERA_HEIGHT = 1.65
#: A point is an inlier when its relative residual is within this many robust σ (and at least
#: :data:`INLIER_FLOOR`: exact points have σ ≈ 0).
INLIER_SIGMAS = 3.0
INLIER_FLOOR = 0.01
#: Random minimal samples tried for the least-median-of-squares start of the point fits.
LMEDS_SAMPLES = 200
#: Huber's constant (× robust σ) for the reweighted least squares.
HUBER_K = 1.345
#: Ground fit: rows below this fraction of the image height, a plane whose normal is within
#: :data:`GROUND_MAX_TILT_DEG` of the camera's down axis, point-to-plane distance below
#: :data:`GROUND_THRESHOLD` × the plane's distance from the camera (a relative depth error ε moves a
#: ground point by about ε·h, whatever its distance), and at least :data:`GROUND_MIN_INLIERS` of the
#: lower image's valid pixels on it.
GROUND_ROWS_FROM = 0.6
GROUND_MAX_TILT_DEG = 25.0
GROUND_THRESHOLD = 0.05
GROUND_MIN_INLIERS = 0.2
#: RANSAC hypotheses of the ground fit.
GROUND_ITERATIONS = 300
GROUND_MAX_SAMPLES = 20000


@dataclass(frozen=True)
class SparsePoints:
    """Known depths at pixels: ``uv`` float64 ``(N, 2)`` (u right, v down, px of the input image; a
    pixel ``(row i, col j)`` covers ``[j − ½, j + ½) × [i − ½, i + ½)``), ``depth`` float64 ``(N,)`` (m)
    and where they came from (``source``, for messages and metadata). ``size`` ``(H, W)``: the image
    size the pixels belong to when the source states it (a depth PNG), else None."""

    uv: np.ndarray
    depth: np.ndarray
    source: str
    size: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.depth)

    def subset(self, n: int, seed: int = 0) -> SparsePoints:
        """``n`` of the points (all when there are fewer), drawn without replacement with ``seed``."""
        if n >= len(self):
            return self
        pick = np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False))
        return replace(self, uv=self.uv[pick], depth=self.depth[pick], source=f"{self.source} ({n} drawn)")


@dataclass(frozen=True)
class Alignment:
    """A fitted alignment: ``aligned = 1 / (scale / pred + shift)`` (``shift`` 1/m, 0 for a pure scale:
    ``aligned = scale · pred``). ``residual``: the median relative error ``|aligned − depth| / depth``
    over the ``points`` valid points (for the ground fit: the inliers' median distance to the plane /
    the plane's distance from the camera); ``inliers`` of them agree with the fit; ``extra``: what the
    fit measured besides (the ground fit's predicted height, tilt)."""

    mode: str
    scale: float
    shift: float
    residual: float
    points: int
    inliers: int
    source: str
    extra: dict[str, Any] = field(default_factory=dict)

    def apply(self, depth: np.ndarray) -> np.ndarray:
        """``depth`` ``(H, W)`` (m) → aligned float32 (m); invalid (≤ 0, non-finite) stays 0, and so does
        a pixel whose shifted inverse depth is ≤ 0 (beyond infinity)."""
        d = np.asarray(depth, np.float64)
        valid = np.isfinite(d) & (d > 0)
        if self.shift == 0.0:
            return np.where(valid, d * self.scale, 0.0).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = self.scale / np.where(valid, d, 1.0) + self.shift
            out = np.where(valid & (inv > 0), 1.0 / inv, 0.0)
        return out.astype(np.float32)

    def as_meta(self) -> dict[str, Any]:
        """For an output's metadata."""
        return {
            "mode": self.mode,
            "scale": self.scale,
            "shift_inverse_m": self.shift,
            "residual_median_rel": self.residual,
            "points": self.points,
            "inliers": self.inliers,
            "source": self.source,
            **self.extra,
        }

    def describe(self) -> str:
        """One line for the log."""
        fitted = f"scale {self.scale:.4g}" + (f", shift {self.shift:.4g} 1/m" if self.shift else "")
        return (
            f"aligned to {self.source} ({self.mode}): {fitted}; median relative error "
            f"{100 * self.residual:.2f} % over {self.points} point(s), {self.inliers} inlier(s)"
        )


# --- readers ------------------------------------------------------------------------------------


def read_points_csv(path: str | os.PathLike[str]) -> SparsePoints:
    """CSV ``u,v,depth`` (px of the input image, m), one point a line; a first line of names
    (``u,v,depth`` in any order) is optional, blank lines and ``#`` comments are skipped.

    Raises:
        FileNotFoundError: no such file. ValueError: a line that is not three numbers, naming the
        file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"alignment points not found: {path}")
    order = (0, 1, 2)
    rows: list[tuple[float, float, float]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        for lineno, fields in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in fields]
            if not any(cells) or cells[0].startswith("#"):
                continue
            names = [c.lower() for c in cells]
            if not rows and sorted(names) == ["depth", "u", "v"]:
                order = (names.index("u"), names.index("v"), names.index("depth"))
                continue
            try:
                if len(cells) != 3:
                    raise ValueError
                values = [float(c) for c in cells]
            except ValueError:
                raise ValueError(
                    f"{path}:{lineno}: expected u,v,depth (three numbers: pixels of the input image and "
                    f"metres), got {','.join(fields)!r}"
                ) from None
            rows.append((values[order[0]], values[order[1]], values[order[2]]))
    if not rows:
        raise ValueError(f"{path}: no points; expected lines of u,v,depth (pixels and metres)")
    arr = np.asarray(rows, np.float64)
    return SparsePoints(arr[:, :2], arr[:, 2], str(path))


def read_points_png(path: str | os.PathLike[str], scale: float = KITTI_SCALE) -> SparsePoints:
    """A sparse depth map (16-bit PNG, metres × ``scale``, 0 = no point; KITTI's ×256 by default, or
    the scale a ``ssrdepth predict`` PNG records) → its non-zero pixels as points, with the map's size.

    Raises:
        BadSampleError (a ValueError) naming the file: missing, not a one-channel 16-bit/float map.
    """
    path = Path(path)
    depth = read_depth_map(path, scale)
    rows, cols = np.nonzero(depth > 0)
    uv = np.stack([cols, rows], axis=1).astype(np.float64)
    return SparsePoints(uv, depth[rows, cols].astype(np.float64), str(path), size=depth.shape[:2])


def read_calibration(path: str | os.PathLike[str]) -> StereoCalibration:
    """A KITTI object (``Tr_velo_to_cam``) or tracking (``Tr_velo_cam``) calibration file with the
    lidar transform. Raises ValueError naming the file when it has no velodyne → camera transform."""
    path = Path(path)
    try:
        calib = read_object_calib(path)
    except ValueError:
        calib = read_tracking_calib(path)
    if calib.velo_to_cam is None:
        raise ValueError(f"{path}: no velodyne → camera transform (Tr_velo_to_cam / Tr_velo_cam)")
    return calib


def read_points_velodyne(
    scan: str | os.PathLike[str], calib: str | os.PathLike[str] | StereoCalibration, size: tuple[int, int]
) -> SparsePoints:
    """A KITTI velodyne scan (``.bin``, float32 x, y, z, r) projected into the left colour image of
    size ``(H, W)`` with its calibration (``P2 · R0_rect · Tr_velo_to_cam``,
    :func:`ssrdepth.data.kitti_lidar.project_lidar`): the points in front of the camera inside the image.

    Raises:
        FileNotFoundError / ValueError naming the scan or calibration file.
    """
    cal = calib if isinstance(calib, StereoCalibration) else read_calibration(calib)
    scan_points = read_velodyne(Path(scan))
    uv, depth = project_lidar(scan_points, cal, size)
    name = f"{scan} (of its {len(scan_points)} points, {len(depth)} in the image)"
    return SparsePoints(uv, depth, name, size=size)


def known_points(points: list[tuple[float, float, float]], source: str = "--align-point") -> SparsePoints:
    """A few known distances ``(u, v, depth)`` (px of the input image, m)."""
    arr = np.asarray(points, np.float64).reshape(-1, 3)
    return SparsePoints(arr[:, :2], arr[:, 2], source)


def read_points(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    calib: str | os.PathLike[str] | None = None,
) -> SparsePoints:
    """Points from a file by its suffix: ``.csv`` / ``.txt`` (u,v,depth), ``.png`` (sparse depth map),
    ``.bin`` (velodyne scan: needs ``calib`` and the image ``size`` (H, W)).

    Raises:
        ValueError: another suffix, or a scan without its calibration — naming the option that fixes it.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        return read_points_csv(p)
    if suffix == ".png":
        return read_points_png(p)
    if suffix == ".bin":
        if calib is None:
            raise ValueError(f"{p}: a velodyne scan needs its calibration: --align-calib CALIB.txt")
        if size is None:
            raise ValueError(f"{p}: a velodyne scan is projected into the image: its size is needed")
        return read_points_velodyne(p, calib, size)
    raise ValueError(
        f"{p}: unknown alignment source {suffix or '(no suffix)'!r}; expected .csv (u,v,depth), "
        ".png (sparse 16-bit depth, metres × 256) or .bin (KITTI velodyne, with --align-calib)"
    )


# --- point fits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Samples:
    pred: np.ndarray  # (n,) predicted depth at the valid points, m
    depth: np.ndarray  # (n,) their known depth, m


def _sample(pred_depth: np.ndarray, points: SparsePoints, mode: str) -> _Samples:
    """The prediction at each point's pixel (nearest), and a ValueError saying why too few are valid."""
    h, w = pred_depth.shape[:2]
    if points.size is not None and tuple(points.size) != (h, w):
        raise ValueError(
            f"{points.source}: a {points.size[1]}×{points.size[0]} map, but the image is {w}×{h}; "
            "give the points in pixels of the input image"
        )
    u, v = points.uv[:, 0], points.uv[:, 1]
    finite = np.isfinite(u) & np.isfinite(v)
    inside = finite & (u >= -0.5) & (u < w - 0.5) & (v >= -0.5) & (v < h - 0.5)
    good_depth = np.isfinite(points.depth) & (points.depth > 0)
    cols = np.clip(np.rint(np.where(inside, u, 0)).astype(np.int64), 0, w - 1)
    rows = np.clip(np.rint(np.where(inside, v, 0)).astype(np.int64), 0, h - 1)
    pred = np.asarray(pred_depth, np.float64)[rows, cols]
    good_pred = np.isfinite(pred) & (pred > 0)
    valid = inside & good_depth & good_pred
    n, need = int(valid.sum()), MIN_POINTS[mode]
    if n < need:
        outside = int((~inside).sum())
        bad_depth = int((inside & ~good_depth).sum())
        bad_pred = int((inside & good_depth & ~good_pred).sum())
        example = ""
        if outside:
            k = int(np.flatnonzero(~inside)[0])
            example = f" (e.g. u={u[k]:g}, v={v[k]:g})"
        raise ValueError(
            f"{points.source}: {n} of {len(points)} point(s) valid, the {mode} fit needs at least {need}: "
            f"{outside} outside the {w}×{h} image{example}, {bad_depth} with a depth that is not a positive "
            f"number, {bad_pred} where the prediction is invalid (no depth there)"
        )
    return _Samples(pred[valid], points.depth[valid])


def _robust_unit_fit(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """θ with ``A θ ≈ 1`` robustly (rows of ``a`` ``(n, k)``; the residual ``A θ − 1`` is relative).

    1. Start: least median of squares (Rousseeuw 1984) over random k-row samples, the least-squares
       solution and, for one unknown, the median (it stands up to just under half the points wrong);
    2. σ = 1.4826 × the start's median absolute residual (the normal-consistent robust spread), fixed;
    3. Huber's M-estimate with that σ (iteratively reweighted least squares: convex, so it converges);
    4. least squares on the inliers (residual within 3 σ, at least 1 %).

    Returns θ, the inlier mask and σ."""
    n, k = a.shape
    ones = np.ones(n)
    candidates = [np.linalg.lstsq(a, ones, rcond=None)[0]]
    if k == 1:
        candidates.append(np.array([float(np.median(1.0 / a[:, 0]))]))
    for _ in range(LMEDS_SAMPLES if n > k else 0):
        pick = rng.choice(n, k, replace=False)
        try:
            candidates.append(np.linalg.solve(a[pick], ones[pick]))
        except np.linalg.LinAlgError:
            continue
    theta = min(candidates, key=lambda t: float(np.median(np.abs(a @ t - 1))))
    sigma = 1.4826 * float(np.median(np.abs(a @ theta - 1)))
    delta = max(HUBER_K * sigma, 1e-12)
    for _ in range(100):
        e = a @ theta - 1
        sw = np.sqrt(np.minimum(1.0, delta / np.maximum(np.abs(e), 1e-300)))
        new = np.linalg.lstsq(a * sw[:, None], sw, rcond=None)[0]
        if np.allclose(new, theta, rtol=1e-12, atol=0):
            break
        theta = new
    band = max(INLIER_SIGMAS * sigma, INLIER_FLOOR)
    inliers = np.abs(a @ theta - 1) <= band
    if inliers.sum() >= k:
        theta = np.linalg.lstsq(a[inliers], ones[inliers], rcond=None)[0]
        inliers = np.abs(a @ theta - 1) <= band
    return theta, inliers, sigma


def _check_inliers(mode: str, inliers: int, n: int, source: str) -> None:
    if inliers < MIN_POINTS[mode]:
        raise ValueError(
            f"{source}: only {inliers} of {n} valid point(s) agree on one {mode} fit (at least "
            f"{MIN_POINTS[mode]} needed); check that the points are in pixels of the input image and metres"
        )


def fit_scale(pred_depth: np.ndarray, points: SparsePoints, seed: int = 0) -> Alignment:
    """Scale ``s`` with ``depth ≈ s · pred`` at the points: robust least squares in relative error.

    Args:
        pred_depth: ``(H, W)`` predicted depth (m, any scale) at the input image's size.
        points: known depths at pixels of that image.

    Raises:
        ValueError: fewer than 3 valid points (each invalid one counted by cause: outside the image,
        not a positive depth, no prediction there), or fewer than 3 that agree on one scale.
    """
    s = _sample(pred_depth, points, "scale")
    a = (s.pred / s.depth)[:, None]  # s · pred / depth ≈ 1
    theta, inliers, _ = _robust_unit_fit(a, np.random.default_rng(seed))
    _check_inliers("scale", int(inliers.sum()), len(a), points.source)
    scale = float(theta[0])
    residual = float(np.median(np.abs(scale * s.pred - s.depth) / s.depth))
    return Alignment("scale", scale, 0.0, residual, len(a), int(inliers.sum()), points.source)


def fit_scale_shift_inverse(pred_depth: np.ndarray, points: SparsePoints, seed: int = 0) -> Alignment:
    """Scale ``a`` and shift ``b`` (1/m) in inverse depth, ``1 / depth ≈ a / pred + b`` — the fit
    MiDaS and Depth-Anything users make for relative (affine-invariant disparity) maps: robust least
    squares in relative inverse-depth error.

    Raises:
        ValueError: fewer than 5 valid points (counted by cause as :func:`fit_scale`), fewer than 5
        that agree, or a fit that is not a depth (``a`` ≤ 0).
    """
    s = _sample(pred_depth, points, "scale-shift")
    inv_pred, inv_depth = 1.0 / s.pred, 1.0 / s.depth
    a = np.stack([inv_pred / inv_depth, 1.0 / inv_depth], axis=1)  # (a/pred + b) · depth ≈ 1
    theta, inliers, _ = _robust_unit_fit(a, np.random.default_rng(seed))
    _check_inliers("scale-shift", int(inliers.sum()), len(a), points.source)
    scale, shift = float(theta[0]), float(theta[1])
    if scale <= 0:
        raise ValueError(
            f"{points.source}: the inverse-depth fit has scale {scale:.4g} ≤ 0 (the points' depth falls "
            "where the prediction rises); use --align-mode scale, or check the points"
        )
    al = Alignment("scale-shift", scale, shift, 0.0, len(a), int(inliers.sum()), points.source)
    aligned = al.apply(s.pred)
    err = np.where(aligned > 0, np.abs(aligned - s.depth) / s.depth, 1.0)
    return replace(al, residual=float(np.median(err)))


def fit_points(pred_depth: np.ndarray, points: SparsePoints, mode: str = "scale", seed: int = 0) -> Alignment:
    """:func:`fit_scale` (``mode="scale"``) or :func:`fit_scale_shift_inverse` (``"scale-shift"``)."""
    if mode not in MODES:
        raise ValueError(f"unknown alignment mode {mode!r}; valid: {', '.join(MODES)}")
    fit = fit_scale if mode == "scale" else fit_scale_shift_inverse
    return fit(pred_depth, points, seed)


# --- ground plane ---------------------------------------------------------------------------------


def _plane(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane ``n · X = d`` through ``pts`` ``(n, 3)``, ``|n| = 1``, ``n_y ≥ 0``."""
    centre = pts.mean(axis=0)
    normal = np.linalg.svd(pts - centre, full_matrices=False)[2][2]
    if normal[1] < 0:
        normal = -normal
    return normal, float(normal @ centre)


def fit_camera_height(
    pred_depth: np.ndarray,
    intrinsics: tuple[float, float, float, float],
    height_m: float = KITTI_CAMERA_HEIGHT,
    seed: int = 0,
) -> Alignment:
    """Scale from the camera's height above a flat ground: the pixels of the lower image
    (rows ≥ 60 % of the height) back-projected with ``intrinsics``, a RANSAC plane among those whose
    normal is within 25° of the camera's down axis, refitted on its inliers; the camera centre's
    distance to it is the predicted height ``h'`` and the scale is ``height_m / h'``.

    Args:
        pred_depth: ``(H, W)`` predicted depth (m) at the image's size (y down).
        intrinsics: ``(fx, fy, cx, cy)`` px at that size.
        height_m: the camera's true height above the ground (m; KITTI 1.65).

    Raises:
        ValueError: a height ≤ 0, too few valid lower-image pixels, or no plausible ground plane
        (too few inliers, a plane not roughly horizontal, or one above the camera).
    """
    if not height_m > 0:
        raise ValueError(f"camera height must be > 0 m, got {height_m}")
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    h = pred_depth.shape[0]
    top = math.ceil(GROUND_ROWS_FROM * h)
    z = np.asarray(pred_depth[top:], np.float64)
    rows, cols = np.nonzero(np.isfinite(z) & (z > 0))
    source = f"the camera height {height_m:g} m"
    if len(rows) < 50:
        raise ValueError(
            f"{source}: only {len(rows)} valid pixel(s) in the lower image (rows {top}–{h - 1}); "
            "the ground fit needs the road in the lower part of the picture"
        )
    rng = np.random.default_rng(seed)
    if len(rows) > GROUND_MAX_SAMPLES:
        pick = rng.choice(len(rows), GROUND_MAX_SAMPLES, replace=False)
        rows, cols = rows[pick], cols[pick]
    zz = z[rows, cols]
    pts = np.stack([(cols - cx) * zz / fx, (rows + top - cy) * zz / fy, zz], axis=1)
    cos_tilt = math.cos(math.radians(GROUND_MAX_TILT_DEG))
    best: np.ndarray | None = None
    best_count = 0
    for _ in range(GROUND_ITERATIONS):
        p = pts[rng.choice(len(pts), 3, replace=False)]
        normal = np.cross(p[1] - p[0], p[2] - p[0])
        norm = np.linalg.norm(normal)
        if norm == 0:
            continue
        normal = normal / norm
        if normal[1] < 0:
            normal = -normal
        d = float(normal @ p[0])
        if normal[1] < cos_tilt or d <= 0:
            continue
        # Scored in a narrow band, so that the densest plane wins over a tilted one through the road
        # and a kerb (a raised pavement is ~8 % of h' above it); counted in the wide band.
        inl = np.abs(pts @ normal - d) < INLIER_FLOOR * d
        if inl.sum() > best_count:
            best, best_count = inl, int(inl.sum())
    if best is not None:
        normal, d = _plane(pts[best])
        best_count = int((np.abs(pts @ normal - d) < GROUND_THRESHOLD * abs(d)).sum())
    if best is None or best_count < GROUND_MIN_INLIERS * len(pts):
        raise ValueError(
            f"{source}: no flat ground in the lower image: the best roughly horizontal plane (within "
            f"{GROUND_MAX_TILT_DEG:g}° of level) holds {best_count} of {len(pts)} pixels, at least "
            f"{GROUND_MIN_INLIERS:.0%} needed; use points (--align) where the road is not in view"
        )
    inliers = best
    for _ in range(5):  # refit; the band narrows to 3 robust σ of the ground's own spread (≥ 1 % of h')
        normal, d = _plane(pts[inliers])
        dist = np.abs(pts @ normal - d)
        sigma = 1.4826 * float(np.median(dist[inliers]))
        band = min(GROUND_THRESHOLD * abs(d), max(INLIER_SIGMAS * sigma, INLIER_FLOOR * abs(d)))
        inliers = dist < band
    normal, d = _plane(pts[inliers])
    inliers = np.abs(pts @ normal - d) < GROUND_THRESHOLD * abs(d)  # the count: the wide band
    tilt = math.degrees(math.acos(min(1.0, float(normal[1]))))
    if d <= 0 or tilt > GROUND_MAX_TILT_DEG or inliers.sum() < GROUND_MIN_INLIERS * len(pts):
        raise ValueError(
            f"{source}: no plausible ground plane (tilt {tilt:.1f}°, {int(inliers.sum())} of {len(pts)} "
            "pixels); use points (--align) where the road is not in view"
        )
    residual = float(np.median(np.abs(pts[inliers] @ normal - d)) / d)
    return Alignment(
        "camera-height",
        height_m / d,
        0.0,
        residual,
        len(pts),
        int(inliers.sum()),
        source,
        extra={"predicted_height_m": d, "camera_height_m": height_m, "ground_tilt_deg": tilt},
    )


# --- the request predict carries -----------------------------------------------------------------


@dataclass(frozen=True)
class AlignRequest:
    """What ``predict --align …`` asks for: a points file (``path``, with ``calib`` for a velodyne
    scan), known distances (``points``: ``(u, v, depth)`` each), or the camera's height above a flat
    ground (``camera_height`` m, with the intrinsics). ``mode`` (:data:`MODES`) is the point fit."""

    path: Path | None = None
    calib: Path | None = None
    points: tuple[tuple[float, float, float], ...] = ()
    camera_height: float | None = None
    mode: str = "scale"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown --align-mode {self.mode!r}; valid: {', '.join(MODES)}")
        given = [self.path is not None, bool(self.points), self.camera_height is not None]
        if sum(given) != 1:
            raise ValueError(
                "align to one thing: --align FILE, --align-point U,V,DEPTH (repeatable) or --camera-height M"
            )
        if self.calib is not None and (self.path is None or self.path.suffix.lower() != ".bin"):
            raise ValueError("--align-calib is the calibration of a velodyne scan: give --align SCAN.bin")
        if self.camera_height is not None and not self.camera_height > 0:
            raise ValueError(f"--camera-height must be > 0 m, got {self.camera_height}")
        if self.path is not None and self.path.suffix.lower() != ".bin":
            read_points(self.path)  # a bad file fails before any model runs
        if self.path is not None and self.path.suffix.lower() == ".bin":
            if self.calib is None:
                raise ValueError(
                    f"{self.path}: a velodyne scan needs its calibration: --align-calib CALIB.txt"
                )
            read_calibration(self.calib)
            read_velodyne(self.path)  # a missing or cut-off scan fails before any model runs

    @property
    def per_image(self) -> bool:
        """True when the points belong to one image (a file or known distances)."""
        return self.camera_height is None

    def check_inputs(self, images: int, videos: int) -> None:
        """Refuse inputs the request cannot serve: videos, or points for more than one image."""
        if videos:
            raise ValueError("--align / --camera-height align still images; predict videos without them")
        if self.per_image and images != 1:
            raise ValueError(
                f"alignment points belong to one image, but {images} images were given; predict them one "
                "at a time, each with its own --align, or use --camera-height for many"
            )

    def fit(
        self, depth: np.ndarray, intrinsics: tuple[float, float, float, float] | None = None
    ) -> Alignment:
        """Fit to ``depth`` ``(H, W)`` (m at the image's size). ``intrinsics`` (fx, fy, cx, cy px at that
        size) are needed for the camera height."""
        if self.camera_height is not None:
            if intrinsics is None:
                raise ValueError(
                    "--camera-height needs the camera: the photo's EXIF focal length, or --focal PX (px at "
                    "the image's width; the principal point is then the image centre), --fov DEG, --calib FILE "
                    "or --intrinsics FX,FY,CX,CY"
                )
            al = fit_camera_height(depth, intrinsics, self.camera_height)
        else:
            if self.path is not None:
                pts = read_points(self.path, depth.shape[:2], self.calib)
            else:
                pts = known_points(list(self.points))
            al = fit_points(depth, pts, self.mode)
        logger.info("%s", al.describe())
        return al


def camera_intrinsics(
    size: tuple[int, int],
    intrinsics: tuple[float, float, float, float] | None,
    focal: float | None,
) -> tuple[float, float, float, float] | None:
    """The camera for the ground fit at an image of ``size`` (H, W): ``intrinsics`` as given, else
    ``focal`` (px at the image's width) with the principal point at the image centre, else None."""
    if intrinsics is not None:
        return intrinsics
    if focal is None:
        return None
    h, w = size
    return (focal, focal, (w - 1) / 2, (h - 1) / 2)


def align_depth(
    depth: np.ndarray,
    request: AlignRequest,
    intrinsics: tuple[float, float, float, float] | None = None,
    focal: float | None = None,
) -> tuple[np.ndarray, Alignment]:
    """The Python API's one call: ``depth`` ``(H, W)`` (m) → the aligned depth (float32 m) and the
    :class:`Alignment` (``as_meta()`` for the output's metadata)."""
    al = request.fit(depth, camera_intrinsics(depth.shape[:2], intrinsics, focal))
    return al.apply(depth), al

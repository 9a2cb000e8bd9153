"""Disparity ↔ depth, target normalisation, and resizing of disparity maps.

For a rectified pair with focal length ``f`` (px) and baseline ``B`` (m), a point at depth ``Z`` (m)
has disparity ``d = f·B / Z`` (px). Zero, negative and non-finite values mean "unknown" on both sides
and map to 0.

Training targets are normalised as in the paper by a fixed maximum disparity: ``target = d /
max_disparity`` with ``max_disparity`` the matcher's search range at the original resolution (192 px by
default). :func:`target_scale` returns the shared :class:`~ssrdepth.data.config.TargetScale` that
records this and turns predictions back into disparity and metres.
"""

from __future__ import annotations

import cv2
import numpy as np

from ssrdepth.core.scale import TargetScale
from ssrdepth.core.scale import disparity_to_depth as core_disparity_to_depth

#: KITTI stereo rig: baseline between the colour cameras 2 and 3 (m), Geiger et al. 2013 (≈ 0.54 m;
#: 0.532–0.537 m in the per-drive calibrations). Use the calibration file's value when there is one.
KITTI_BASELINE = 0.54


def _check_fb(focal: float, baseline: float) -> float:
    if not (focal > 0 and baseline > 0):
        raise ValueError(f"focal (px) and baseline (m) must be > 0, got focal={focal}, baseline={baseline}")
    return float(focal) * float(baseline)


def disparity_to_depth(disparity: np.ndarray, focal: float, baseline: float) -> np.ndarray:
    """Disparity (px, any shape) → depth (m) ``= focal·baseline / disparity`` as float32; 0 where the
    disparity is at infinity or not finite (:func:`ssrdepth.core.scale.disparity_to_depth`, with
    focal and baseline checked)."""
    _check_fb(focal, baseline)
    return core_disparity_to_depth(np.asarray(disparity, dtype=np.float32), focal, baseline)


def depth_to_disparity(depth: np.ndarray, focal: float, baseline: float) -> np.ndarray:
    """Depth (m, any shape) → disparity (px) ``= focal·baseline / depth``; 0 where the depth is ≤ 0
    or not finite. Inverse of :func:`disparity_to_depth` on known values."""
    return disparity_to_depth(depth, focal, baseline)  # the same reciprocal map


def median_relative_difference(depth: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Median of ``|depth − reference| / reference`` over the pixels where both are known (> 0 and
    finite), and how many pixels that is; (NaN, 0) when there are none. Any equal shapes."""
    if depth.shape != reference.shape:
        raise ValueError(f"depth {depth.shape} and reference {reference.shape} must have the same shape")
    both = np.isfinite(depth) & (depth > 0) & np.isfinite(reference) & (reference > 0)
    n = int(both.sum())
    if n == 0:
        return float("nan"), 0
    rel = np.abs(depth[both].astype(np.float64) - reference[both]) / reference[both]
    return float(np.median(rel)), n


def target_scale(
    max_disparity: float,
    focal: float | None = None,
    baseline: float | None = None,
    reference_width: int | None = None,
) -> TargetScale:
    """The normalisation of stereo targets: ``target = disparity / max_disparity`` with disparity in
    px at ``reference_width`` (the pair's original width; ``focal`` is in px at that width too)."""
    return TargetScale(
        kind="disparity",
        max_value=float(max_disparity),
        focal=focal,
        baseline=baseline,
        reference_width=reference_width,
    )


def resize_disparity(
    disparity: np.ndarray, valid_mask: np.ndarray, size: tuple[int, int], min_coverage: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Resize an ``(H, W)`` disparity map (px) with its validity mask to ``size`` ``(h, w)``.

    Disparity values scale with the width (``× w / W``: a disparity is a horizontal pixel distance).
    Shrinking averages the valid disparities in each output pixel's footprint (invalid ones do not
    pull it towards 0) and keeps pixels at least ``min_coverage`` valid; enlarging uses the nearest
    input pixel. Returns (disparity float32 ``(h, w)``, 0 where invalid; valid_mask bool ``(h, w)``).
    """
    if disparity.shape != valid_mask.shape or disparity.ndim != 2:
        raise ValueError(
            f"disparity and valid_mask must be equal (H, W) arrays, got {disparity.shape} and {valid_mask.shape}"
        )
    h, w = size
    if h < 1 or w < 1:
        raise ValueError(f"size must be (h, w) ≥ 1, got {size}")
    src_h, src_w = disparity.shape
    valid = valid_mask.astype(bool) & np.isfinite(disparity) & (disparity > 0)
    values = np.where(valid, disparity, 0.0).astype(np.float32)
    if h <= src_h and w <= src_w:
        weight = cv2.resize(valid.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        summed = cv2.resize(values, (w, h), interpolation=cv2.INTER_AREA)
        out_valid = weight >= max(min_coverage, 1e-6)
        out: np.ndarray = np.zeros((h, w), np.float32)
        np.divide(summed, weight, out=out, where=out_valid)
    else:
        out = cv2.resize(values, (w, h), interpolation=cv2.INTER_NEAREST)
        out_valid = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    out = np.where(out_valid, out * np.float32(w / src_w), np.float32(0.0)).astype(np.float32)
    return out, out_valid


#: Beam elevations (degrees above the horizontal) of a Velodyne HDL-64E, KITTI's lidar (Geiger et al.
#: 2013): 64 lasers over +2.0° … −24.33°, the upper block of 32 every 1/3° down to −8.33°, the lower
#: block of 32 every 1/2° from −8.83° (Velodyne HDL-64E S2 user's manual, vertical field of view).
HDL64_ELEVATIONS = np.concatenate([2.0 - np.arange(32) / 3.0, -8.83 - 0.5 * np.arange(32)]).astype(np.float64)
#: Range of the HDL-64E (m, the manual's 120 m for cars and foliage): farther surfaces return nothing.
HDL64_RANGE = 120.0


def lidar_like_mask(
    size: tuple[int, int],
    focal: float,
    principal_point: tuple[float, float],
    azimuth_step: float = 0.18,
    dropout: float = 0.05,
    rng: np.random.Generator | None = None,
    elevations: np.ndarray = HDL64_ELEVATIONS,
) -> np.ndarray:
    """The pixels of a ``size`` = ``(H, W)`` pinhole image (``focal`` px, ``principal_point`` ``(cx,
    cy)`` px) that a KITTI-like HDL-64E scan hits: bool ``(H, W)``.

    Model: the lidar sits at the camera centre, level with its optical axis (KITTI's is 8 cm higher and
    27 cm behind: ignored). Beam ``e`` (:data:`HDL64_ELEVATIONS`) fires every ``azimuth_step`` degrees;
    the ray at azimuth ``a`` lands at ``u = cx + f·tan a``, ``v = cy − f·tan e / cos a`` (beams curve
    away from the horizon towards the image sides, as in KITTI's projected scans). ``dropout`` of the
    points are lost at random (no return: dark, wet or specular surfaces). 0.18° is KITTI's spacing
    (≈ 120,000 points per 10 Hz turn, ≈ 1,900 per beam). Surfaces without a return (the sky, beyond
    :data:`HDL64_RANGE`) are the caller's to remove.

    Density: the angular pattern is KITTI's, so the share of pixels hit depends on the resolution.
    At KITTI's 1242×375 (f = 721.5 px) about 46 beams cross the image and 4.0 % of the pixels get a
    point, what the lidar gives on real KITTI frames (4.0–4.5 % on the shared object frames,
    docs/stereo.md); at half that resolution each pixel spans four times the solid angle and the same
    scan covers ≈ 4× the share (≈ 15 % at the synthetic set's 621×188). Targets made from it are resized like lidar (an output pixel is valid
    where any point falls), so at the model's size they match what real KITTI lidar gives there.
    """
    h, w = size
    cx, cy = principal_point
    half_fov = np.degrees(np.arctan(max(cx + 0.5, w - 0.5 - cx) / focal))
    azimuths = np.radians(np.arange(-half_fov, half_fov + 1e-9, azimuth_step))
    elev = np.radians(np.asarray(elevations, dtype=np.float64))
    u = np.rint(cx + focal * np.tan(azimuths))[None, :] + np.zeros((elev.size, 1))
    v = np.rint(cy - focal * np.tan(elev)[:, None] / np.cos(azimuths)[None, :])
    keep = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    if dropout > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        keep &= rng.random(keep.shape) >= dropout
    mask = np.zeros((h, w), bool)
    mask[v[keep].astype(np.int64), u[keep].astype(np.int64)] = True
    return mask

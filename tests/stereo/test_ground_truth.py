"""Every backend against real ground truth: Middlebury disparity maps and KITTI street geometry.

Reported (run with ``-s`` to see the table) and asserted per backend: end-point error (EPE, px),
D1 (fraction of pixels, among those valid in both the estimate and the ground truth, whose error
exceeds 3 px and 5 % of the true disparity; KITTI 2015's outlier rate) and density (fraction of the
ground-truth pixels the backend returns). Thresholds: the values measured with the default settings,
OpenCV 5.0.0 and pyelas 1.0.1 (docs/stereo.md), plus a margin of about a third.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from ssrdepth.stereo.geometry import disparity_to_depth, median_relative_difference
from ssrdepth.stereo.matching import compute_disparity, default_settings, elas_available

BACKENDS = [
    "sgm",
    "bm",
    pytest.param("elas", marks=pytest.mark.skipif(not elas_available(), reason="pyelas not installed")),
]


def stereo_errors(disparity: np.ndarray, valid: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """EPE, D1, density and the median relative difference of f·B/d depths (f·B cancels)."""
    known = np.isfinite(truth) & (truth > 0)
    both = known & valid
    err = np.abs(disparity[both] - truth[both])
    rel, _ = median_relative_difference(
        disparity_to_depth(np.where(valid, disparity, 0), 1.0, 1.0),
        disparity_to_depth(np.where(known, truth, 0), 1.0, 1.0),
    )
    return {
        "epe": float(err.mean()),
        "d1": float(np.mean((err > 3.0) & (err > 0.05 * truth[both]))),
        "density": float(both.sum() / known.sum()),
        "median_rel_depth": rel,
    }


def report(name: str, method: str, m: dict[str, float]) -> None:
    print(
        f"\n{name:<18} {method:<5} EPE {m['epe']:.3f} px  D1 {m['d1'] * 100:.2f} %  "
        f"density {m['density'] * 100:.1f} %  median |ΔZ|/Z {m['median_rel_depth'] * 100:.2f} %"
    )


# Measured (EPE px, D1, density): motorcycle sgm 0.820 / 4.15 % / 88.1 %, bm 0.625 / 2.98 % / 77.2 %,
# elas 1.010 / 4.81 % / 86.7 %; Aloe (half size) sgm 0.533 / 1.65 % / 83.2 %, bm 0.406 / 0.85 % / 72.5 %,
# elas 0.644 / 2.27 % / 80.8 %.
LIMITS = {  # (max EPE, max D1, min density)
    ("motorcycle", "sgm"): (1.05, 0.055, 0.84),
    ("motorcycle", "bm"): (0.85, 0.040, 0.73),
    ("motorcycle", "elas"): (1.30, 0.065, 0.82),
    ("aloe", "sgm"): (0.70, 0.022, 0.79),
    ("aloe", "bm"): (0.55, 0.012, 0.68),
    ("aloe", "elas"): (0.85, 0.030, 0.77),
}


def check(name: str, method: str, m: dict[str, float]) -> None:
    report(name, method, m)
    max_epe, max_d1, min_density = LIMITS[(name, method)]
    assert m["epe"] <= max_epe, f"{name}/{method}: EPE {m['epe']:.3f} px > {max_epe}"
    assert m["d1"] <= max_d1, f"{name}/{method}: D1 {m['d1']:.4f} > {max_d1}"
    assert m["density"] >= min_density, f"{name}/{method}: density {m['density']:.3f} < {min_density}"
    # D1 bounds the outliers, so the depths of most pixels agree to a few per cent.
    assert m["median_rel_depth"] < 0.03


@pytest.mark.parametrize("method", BACKENDS)
def test_middlebury_motorcycle(method: str) -> None:
    """Middlebury 2014 Motorcycle (scikit-image, 741×500, true disparity ≤ 60 px, inf = unknown)."""
    left, right, truth = skdata.stereo_motorcycle()
    disparity, valid = compute_disparity(left, right, settings=default_settings(method, max_disparity=96))
    check("motorcycle", method, stereo_errors(disparity, valid, truth))


def half(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)


@pytest.mark.shared_data
@pytest.mark.parametrize("method", BACKENDS)
def test_middlebury_aloe(shared_data: Path, method: str) -> None:
    """Middlebury 2006 Aloe at half size (641×555); aloeGT.png: disparity px at full size, 0 = unknown."""
    folder = shared_data / "middlebury_aloe"
    left = half(cv2.imread(str(folder / "aloeL.jpg"))[:, :, ::-1])
    right = half(cv2.imread(str(folder / "aloeR.jpg"))[:, :, ::-1])
    truth_full = cv2.imread(str(folder / "aloeGT.png"), cv2.IMREAD_UNCHANGED).astype(np.float32)
    # Nearest (never mixing known and unknown) and halved: disparities scale with the width.
    truth = cv2.resize(truth_full, left.shape[1::-1], interpolation=cv2.INTER_NEAREST) / 2
    assert truth[truth > 0].min() > 20 and truth.max() < 110
    disparity, valid = compute_disparity(left, right, settings=default_settings(method, max_disparity=128))
    check("aloe", method, stereo_errors(disparity, valid, truth))


# KITTI odometry sequence 06, frame 12 (data README): fx 707.0912 px, cy 183.1104 px, fx·B 379.8145.
ODOMETRY_FX, ODOMETRY_CY, ODOMETRY_FB = 707.0912, 183.1104, 379.8145
#: Height of KITTI's cameras above the road (m): the sensor-setup figure of Geiger et al. 2013 (IJRR).
KITTI_CAMERA_HEIGHT = 1.65
GROUND_LIMITS = {"sgm": (0.05, 0.95), "bm": (0.12, 0.05), "elas": (0.05, 0.85)}  # (max |Δh|/h, min density)


@pytest.mark.shared_data
@pytest.mark.parametrize("method", BACKENDS)
def test_kitti_road_gives_the_camera_height(shared_data: Path, method: str) -> None:
    """Metric scale on real KITTI without lidar: on a flat road the disparity is linear in the image
    row, d(v) = (B / h)·(v − v_horizon). Fitting that line to the stereo disparities of the road in
    front of the car must give the rig's known camera height h = 1.65 m (measured: sgm 1.673 m,
    elas 1.683 m, bm 1.782 m), a horizon near the principal point (a camera pitch of about 1°) and
    small residuals. The straight road ahead fills rows ≥ 260, columns 450–620 of this frame."""
    folder = shared_data / "kitti_stereo_pairs"
    left = cv2.imread(str(folder / "odometry06_000012_left.png"))[:, :, ::-1]
    right = cv2.imread(str(folder / "odometry06_000012_right.png"))[:, :, ::-1]
    disparity, valid = compute_disparity(left, right, method)
    road = np.zeros_like(valid)
    road[260:, 450:620] = True
    density = valid[road].mean()
    rows = np.nonzero(road & valid)[0]
    values = disparity[road & valid]
    vs = np.unique(rows)
    per_row = np.array([np.median(values[rows == v]) for v in vs])
    slope, intercept = np.polyfit(vs, per_row, 1)
    baseline = ODOMETRY_FB / ODOMETRY_FX
    height, horizon = baseline / slope, -intercept / slope
    residual = np.median(np.abs(np.polyval([slope, intercept], vs) - per_row))
    # The road's depth from stereo against the depth of that plane at the known height.
    plane_depth = ODOMETRY_FX * KITTI_CAMERA_HEIGHT / (rows - horizon)
    rel, _ = median_relative_difference(ODOMETRY_FB / values, plane_depth)
    print(
        f"\nKITTI road {method:<5} h {height:.3f} m (nominal 1.65), horizon v {horizon:.1f} "
        f"(cy {ODOMETRY_CY}), residual {residual:.3f} px, density {density * 100:.1f} %, "
        f"median |Z_stereo − Z_plane|/Z_plane {rel * 100:.2f} %"
    )
    max_rel_h, min_density = GROUND_LIMITS[method]
    assert abs(height - KITTI_CAMERA_HEIGHT) / KITTI_CAMERA_HEIGHT < max_rel_h
    assert abs(horizon - ODOMETRY_CY) < 30  # within ~2.5° of pitch
    assert residual < 0.5
    assert density >= min_density
    assert rel < max_rel_h + 0.03


@pytest.mark.shared_data
def test_backends_agree_on_kitti_pairs(shared_data: Path) -> None:
    """Three different algorithms, one scene: where two backends both return a depth they agree to
    ~1 % (measured 0.8–1.1 %); a disagreement flags a broken backend or sign convention."""
    folder = shared_data / "kitti_stereo_pairs"
    methods = ["sgm", "bm", *(["elas"] if elas_available() else [])]
    left = cv2.imread(str(folder / "stereo2015_000151_10_left.png"))
    right = cv2.imread(str(folder / "stereo2015_000151_10_right.png"))
    left, right = half(left), half(right)  # 621×187: disparities ≤ 96 px
    depth = {
        m: disparity_to_depth(
            compute_disparity(left, right, settings=default_settings(m, max_disparity=96))[0], 1, 1
        )
        for m in methods
    }
    for a, b in [("sgm", "bm"), *([("sgm", "elas"), ("bm", "elas")] if "elas" in methods else [])]:
        rel, n = median_relative_difference(depth[a], depth[b])
        print(f"\nKITTI 2015 #151 (half size) {a} vs {b}: median |ΔZ|/Z {rel * 100:.2f} % over {n} px")
        assert n > 0.3 * left.shape[0] * left.shape[1]
        assert rel < 0.04

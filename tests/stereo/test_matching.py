"""Matching backends on pairs with a known shift, settings, input validation, left-right check."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from ssrdepth.stereo import matching
from ssrdepth.stereo.matching import (
    METHODS,
    BMSettings,
    SGMSettings,
    compute_disparity,
    default_settings,
    elas_available,
    left_right_consistent,
    settings_from_dict,
    settings_hash,
)

needs_elas = pytest.mark.skipif(
    not elas_available(), reason=f"pyelas (optional, GPL-3.0) not installed: {matching.ELAS_INSTALL}"
)
BACKENDS = [
    pytest.param("sgm"),
    pytest.param("bm"),
    pytest.param("elas", marks=needs_elas),
]


def shifted_pair(
    shift: int, size: tuple[int, int] = (96, 200), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random texture seen by a camera pair with constant disparity ``shift``: right(x) = left(x + shift)."""
    h, w = size
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (h, w + shift), dtype=np.uint8), (3, 3), 0)
    return texture[:, :w].copy(), texture[:, shift : shift + w].copy()


@pytest.mark.parametrize("method", BACKENDS)
def test_constant_shift_is_recovered(method: str) -> None:
    shift = 7
    left, right = shifted_pair(shift)
    disparity, valid = compute_disparity(left, right, method, default_settings(method, max_disparity=32))
    assert disparity.dtype == np.float32 and valid.dtype == bool and disparity.shape == left.shape
    assert np.all(disparity[~valid] == 0) and np.all(disparity[valid] > 0)
    # Left columns x < shift have no match in the right image: never valid.
    assert not valid[:, :shift].any()
    interior = valid[10:-10, 20:-20]
    assert interior.mean() > 0.95, f"{method}: density {interior.mean():.3f}"
    assert np.median(np.abs(disparity[10:-10, 20:-20][interior] - shift)) < 0.25
    assert np.mean(np.abs(disparity[10:-10, 20:-20][interior] - shift) > 1) < 0.01


@pytest.mark.parametrize("method", ["sgm", "bm"])
def test_left_border_filled_only_when_asked(method: str) -> None:
    left, right = shifted_pair(5, size=(64, 160))
    on, valid_on = compute_disparity(left, right, settings=default_settings(method, max_disparity=48))
    _, valid_off = compute_disparity(
        left, right, settings=default_settings(method, max_disparity=48, fill_left_border=False)
    )
    # OpenCV alone leaves the max_disparity left-most columns invalid; padding recovers x ≥ shift.
    assert not valid_off[:, :48].any()
    band = valid_on[8:-8, 8:48]
    assert band.mean() > 0.9 and np.median(np.abs(on[8:-8, 8:48][band] - 5)) < 0.25


def test_gray_and_colour_inputs_agree() -> None:
    left, right = shifted_pair(4, size=(48, 120))
    gray = compute_disparity(left, right, "sgm", SGMSettings(max_disparity=16))
    rgb = compute_disparity(
        np.dstack([left] * 3), np.dstack([right] * 3), "sgm", SGMSettings(max_disparity=16)
    )
    as_float = compute_disparity(left / 255.0, right / 255.0, "sgm", SGMSettings(max_disparity=16))
    for other in (rgb, as_float):
        np.testing.assert_array_equal(gray[0], other[0])
        np.testing.assert_array_equal(gray[1], other[1])


def test_left_right_consistency_by_hand() -> None:
    # Row of 6 px. Left x=3 has d=2 → right x=1 has d=2: consistent. Left x=4 has d=2 → right x=2
    # has d=5: inconsistent (occlusion). Left x=1 has d=3 → x-d = -2 outside: invalid. Left x=5 has
    # d=2.4 → round(2.6) = 3, right d=3: |2.4-3| = 0.6 ≤ 1 consistent. Left x=0 has d=0: invalid.
    left = np.array([[0, 3, 0, 2, 2, 2.4]], dtype=np.float32)
    right = np.array([[0, 2, 5, 3, 0, 0]], dtype=np.float32)
    ok = left_right_consistent(left, right, max_diff=1.0)
    np.testing.assert_array_equal(ok, [[False, False, False, True, False, True]])
    assert not left_right_consistent(left, right, max_diff=0.5)[0, 5]


def test_settings_are_hashable_documented_and_named() -> None:
    assert set(METHODS) == {"sgm", "bm", "elas"}
    a, b = default_settings("sgm"), default_settings("sgm")
    assert a == b and hash(a) == hash(b) and settings_hash(a) == settings_hash(b)
    assert len(settings_hash(a)) == 12
    assert settings_hash(default_settings("sgm", block_size=7)) != settings_hash(a)
    assert settings_hash(default_settings("bm")) != settings_hash(a)
    for method in METHODS:
        s = default_settings(method)
        assert s.method == method and s.max_disparity == 192
        assert settings_from_dict(matching.settings_dict(s)) == s
    with pytest.raises(ValueError, match="valid matchers: sgm, bm, elas"):
        default_settings("census")
    with pytest.raises(ValueError, match="unknown sgm settings"):
        default_settings("sgm", window=3)
    with pytest.raises(ValueError, match="multiple of 16"):
        SGMSettings(max_disparity=100)
    with pytest.raises(ValueError, match="odd"):
        BMSettings(block_size=8)


def test_bad_input_is_refused_clearly() -> None:
    left, right = shifted_pair(3, size=(40, 80))
    with pytest.raises(ValueError, match="same size"):
        compute_disparity(left, right[:, :70])
    with pytest.raises(ValueError, match=r"\(H, W\) gray or \(H, W, 3\)"):
        compute_disparity(left[None], right[None])
    with pytest.raises(ValueError, match="uint8, uint16 or float"):
        compute_disparity(left.astype(np.int32), right.astype(np.int32))
    with pytest.raises(ValueError, match="settings are for 'bm' but method is 'sgm'"):
        compute_disparity(left, right, "sgm", BMSettings(max_disparity=16))


def test_missing_pyelas_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "elas", None)  # makes `import elas` raise ImportError
    left, right = shifted_pair(3, size=(40, 80))
    with pytest.raises(ImportError, match="pip install --no-build-isolation pyelas"):
        compute_disparity(left, right, "elas")
    assert not elas_available()


def test_benchmark_reports_every_backend() -> None:
    result = matching.benchmark_matchers(size=(48, 256), methods=["bm", "sgm"], repeats=1, workers=1)
    assert result["size"] == [48, 256] and result["workers"] == 1
    for method in ("bm", "sgm"):
        entry = result["methods"][method]
        assert entry["single_pairs_per_s"] > 0 and entry["parallel_pairs_per_s"] > 0
        assert 0 <= entry["density"] <= 1
    with pytest.raises(ValueError, match="valid matchers"):
        matching.benchmark_matchers(methods=["census"])


def test_benchmark_workers_default_to_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    # a container or taskset allowing 1 core of a 64-core machine: one worker, not 64
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5}, raising=False)
    result = matching.benchmark_matchers(size=(24, 96), methods=["bm"], repeats=1)
    assert result["workers"] == 1

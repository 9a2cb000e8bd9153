"""prepare_targets: parallel = serial, resumable after an interruption, bad pairs named or skipped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import ssrdepth.data.targets as prep
from ssrdepth.data.config import StereoPair
from ssrdepth.stereo.cache import TargetCache
from ssrdepth.stereo.matching import default_settings

SHIFTS = (3, 5, 8, 11)


def write_pairs(
    folder: Path, shifts: tuple[int, ...] = SHIFTS, size: tuple[int, int] = (48, 128)
) -> list[StereoPair]:
    """Textured pairs with a constant disparity each: right(x) = left(x + shift)."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    h, w = size
    for i, shift in enumerate(shifts):
        rng = np.random.default_rng(i)
        texture = cv2.GaussianBlur(rng.integers(0, 256, (h, w + shift), dtype=np.uint8), (3, 3), 0)
        left, right = folder / f"{i}_l.png", folder / f"{i}_r.png"
        cv2.imwrite(str(left), texture[:, :w])
        cv2.imwrite(str(right), texture[:, shift : shift + w])
        pairs.append(StereoPair(f"seq/{i:06d}", left, right, focal=100.0, baseline=0.5))
    return pairs


def small_cache(root: Path) -> TargetCache:
    return TargetCache(root, default_settings("sgm", max_disparity=16))


def test_parallel_targets_hold_the_true_disparity_and_resume(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "images")
    cache = small_cache(tmp_path / "cache")
    summary = prep.prepare_targets(pairs, cache, workers=2, progress=False)
    assert (summary.total, summary.computed, summary.skipped, summary.failed) == (4, 4, 0, [])
    assert 0.8 < summary.mean_density <= 1.0 and summary.directory == str(cache.directory)
    for pair, shift in zip(pairs, SHIFTS, strict=True):
        disparity, valid = cache.read(pair.key)
        inner = valid[6:-6, 20:-6]
        assert inner.mean() > 0.9
        assert np.median(np.abs(disparity[6:-6, 20:-6][inner] - shift)) < 0.25
    again = prep.prepare_targets(pairs, cache, workers=2, progress=False)
    assert (again.computed, again.skipped) == (0, 4)
    # One process gives byte-identical targets.
    serial = TargetCache(tmp_path / "serial", cache.settings)
    prep.prepare_targets(pairs, serial, workers=1, progress=False)
    for pair in pairs:
        assert serial.path_for(pair.key).read_bytes() == cache.path_for(pair.key).read_bytes()


def test_interrupted_run_keeps_finished_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = write_pairs(tmp_path / "images")
    cache = small_cache(tmp_path / "cache")
    real = prep.compute_disparity
    calls = {"n": 0}

    def interrupted(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(prep, "compute_disparity", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare_targets(pairs, cache, workers=1, progress=False)
    assert cache.keys() == ["seq/000000", "seq/000001"]
    assert not [p for p in cache.directory.rglob("*") if p.name.startswith(".")]  # no temp files
    monkeypatch.setattr(prep, "compute_disparity", real)
    summary = prep.prepare_targets(pairs, cache, workers=1, progress=False)
    assert (summary.computed, summary.skipped) == (2, 2)
    assert len(cache.keys()) == 4


def test_bad_pairs_are_named_or_skipped(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "images")
    missing = StereoPair("seq/missing", pairs[0].left, tmp_path / "images" / "gone.png", 100.0, 0.5)
    cv2.imwrite(str(tmp_path / "images" / "narrow.png"), np.zeros((48, 100), np.uint8))
    mismatched = StereoPair("seq/narrow", pairs[0].left, tmp_path / "images" / "narrow.png", 100.0, 0.5)
    cache = small_cache(tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match=r"gone\.png"):
        prep.prepare_targets([*pairs[:1], missing], cache, workers=1, progress=False)
    with pytest.raises(ValueError, match=r"narrow\.png is 100×48"):
        prep.prepare_targets([mismatched], cache, workers=2, progress=False)
    summary = prep.prepare_targets(
        [*pairs, missing, mismatched], cache, workers=2, progress=False, skip_bad=True
    )
    assert summary.computed + summary.skipped == 4 and len(summary.failed) == 2
    assert summary.failed[0].startswith("seq/") and "seq/missing" not in cache
    with pytest.raises(ValueError, match="unique"):
        prep.prepare_targets([pairs[0], pairs[0]], cache, progress=False)

"""Caches know what they were computed from: stereo targets record their images and are matched again
(prepare-targets) or refused (training) when those images change, even when a replacement keeps the
names, sizes and modification times; the array cache is rebuilt for changed files or another root."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import ssrdepth.data.targets as prep
from ssrdepth.cli import main
from ssrdepth.data import DataConfig, build_dataset, list_stereo_pairs, target_cache
from ssrdepth.data.config import StereoPair
from ssrdepth.stereo.cache import NO_RECORD, TargetCache
from ssrdepth.stereo.matching import default_settings

H, W = 48, 128


def write_pair(left: Path, right: Path, shift: int, seed: int) -> None:
    """A textured pair with constant disparity ``shift`` px: right(x) = left(x + shift)."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (H, W + shift), dtype=np.uint8), (3, 3), 0)
    left.parent.mkdir(parents=True, exist_ok=True)
    right.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(left), np.dstack([texture[:, :W]] * 3))
    assert cv2.imwrite(str(right), np.dstack([texture[:, shift : shift + W]] * 3))


def median_disparity(cache: TargetCache, key: str) -> float:
    disparity, valid = cache.read(key)
    inner = valid[6:-6, 20:-6]
    return float(np.median(disparity[6:-6, 20:-6][inner]))


def replace_keeping_times(files: list[Path], write: object) -> None:
    """Rewrite ``files`` through ``write()`` and put their modification times back (as ``cp -p`` of a
    replacement would)."""
    times = {f: f.stat().st_mtime_ns for f in files}
    write()  # type: ignore[operator]
    for f, ns in times.items():
        os.utime(f, ns=(ns, ns))


def test_a_pair_replaced_under_the_same_names_sizes_and_times_is_matched_again(tmp_path: Path) -> None:
    # BMP: the replacement has exactly the same file size; its modification times are put back.
    left, right = tmp_path / "img" / "0_l.bmp", tmp_path / "img" / "0_r.bmp"
    write_pair(left, right, shift=3, seed=0)
    pair = StereoPair("seq/000000", left, right, focal=100.0, baseline=0.5)
    cache = TargetCache(tmp_path / "cache", default_settings("sgm", max_disparity=16))
    first = prep.prepare_targets([pair], cache, workers=1, progress=False)
    assert (first.computed, first.skipped, first.stale) == (1, 0, 0)
    assert median_disparity(cache, pair.key) == pytest.approx(3.0, abs=0.25)
    sizes = (left.stat().st_size, right.stat().st_size)
    replace_keeping_times([left, right], lambda: write_pair(left, right, shift=8, seed=1))
    assert (left.stat().st_size, right.stat().st_size) == sizes
    again = prep.prepare_targets([pair], cache, workers=1, progress=False)
    assert (again.computed, again.skipped, again.stale) == (1, 0, 1)
    assert median_disparity(cache, pair.key) == pytest.approx(8.0, abs=0.25)
    # Unchanged now: a third run reads nothing new.
    third = prep.prepare_targets([pair], cache, workers=1, progress=False)
    assert (third.computed, third.skipped) == (0, 1)


def test_touched_but_unchanged_images_keep_their_target(tmp_path: Path) -> None:
    left, right = tmp_path / "0_l.png", tmp_path / "0_r.png"
    write_pair(left, right, shift=5, seed=2)
    pair = StereoPair("a", left, right, focal=100.0, baseline=0.5)
    cache = TargetCache(tmp_path / "cache", default_settings("sgm", max_disparity=16))
    prep.prepare_targets([pair], cache, workers=1, progress=False)
    before = cache.path_for("a").read_bytes()
    os.utime(left, ns=(10**18, 10**18))  # new times, same bytes
    assert cache.check("a", [left, right]) is None  # decided by the SHA-256, and the record refreshed
    record = json.loads(cache.record_path("a").read_text(encoding="utf-8"))
    assert record["inputs"][0]["mtime_ns"] == 10**18
    summary = prep.prepare_targets([pair], cache, workers=1, progress=False)
    assert (summary.computed, summary.skipped) == (0, 1) and cache.path_for("a").read_bytes() == before


def stereo_folder(root: Path, n: int = 2) -> DataConfig:
    for i in range(n):
        write_pair(root / "left" / f"{i:03d}.png", root / "right" / f"{i:03d}.png", shift=4, seed=10 + i)
    return DataConfig(
        source="stereo-folder",
        root=str(root),
        focal=100.0,
        baseline=0.5,
        max_disparity=16,
        target="stereo",
        size=(24, 64),
    )


def test_training_refuses_targets_of_changed_images_and_prepare_targets_recomputes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "pairs"
    cfg = stereo_folder(root)
    prep.prepare_targets(list_stereo_pairs(cfg), target_cache(cfg), workers=1, progress=False)
    assert len(build_dataset(cfg, "all", cache=False)) == 2
    # The images of pair 001 replaced under the same names.
    write_pair(root / "left" / "001.png", root / "right" / "001.png", shift=9, seed=99)
    with pytest.raises(ValueError) as info:
        build_dataset(cfg, "all", cache=False)
    message = str(info.value)
    assert message.startswith("1 of 2 stereo targets of stereo-folder (all) in ")
    assert f"001 ({root / 'left' / '001.png'} changed since it was computed" in message
    assert "compute them again with: ssrdepth prepare-targets --source stereo-folder" in message
    argv = ["prepare-targets", "--source", "stereo-folder", "--root", str(root), "--focal", "100"]
    argv += ["--baseline", "0.5", "--max-disparity", "16", "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(
        "1 computed (1 replacing targets of changed images), 1 already cached, 0 failed of 2 pairs"
    )
    assert "1 cached target of" in captured.err and "no longer matches the images" in captured.err
    assert median_disparity(target_cache(cfg), "001") == pytest.approx(9.0, abs=0.25)
    assert len(build_dataset(cfg, "all", cache=False)) == 2


def test_targets_without_a_record_are_recomputed_or_refused(tmp_path: Path) -> None:
    """A cache made before targets recorded their images: trusted by nothing."""
    root = tmp_path / "pairs"
    cfg = stereo_folder(root)
    cache = target_cache(cfg)
    prep.prepare_targets(list_stereo_pairs(cfg), cache, workers=1, progress=False)
    for record in cache.directory.rglob("*.inputs.json"):
        record.unlink()
    with pytest.raises(ValueError, match=f"2 of 2 stereo targets .* 000 {re.escape(f'({NO_RECORD})')}"):
        build_dataset(cfg, "all", cache=False)
    summary = prep.prepare_targets(list_stereo_pairs(cfg), cache, workers=1, progress=False)
    assert (summary.computed, summary.stale, summary.skipped) == (2, 2, 0)
    assert len(build_dataset(cfg, "all", cache=False)) == 2


def rgbd_folder(root: Path, value: int) -> DataConfig:
    """One RGB-D frame: a uniform BMP image of ``value`` and a 16-bit depth map of 4 m."""
    (root / "rgb").mkdir(parents=True, exist_ok=True)
    (root / "depth").mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(root / "rgb" / "a.bmp"), np.full((H, W, 3), value, np.uint8))
    assert cv2.imwrite(str(root / "depth" / "a.png"), np.full((H, W), 4 * 256, np.uint16))
    return DataConfig(
        source="rgbd-folder",
        root=str(root),
        pattern=("rgb/{name}.bmp", "depth/{name}.png"),
        depth_scale=256.0,
        target="depth",
        max_depth=10.0,
        size=(24, 64),
    )


def test_the_array_cache_follows_file_contents_and_the_root(tmp_path: Path) -> None:
    root = tmp_path / "rgbd"
    cfg = rgbd_folder(root, 10)
    first = build_dataset(cfg, "all", progress=False)
    assert int(first.arrays()["image"].max()) == 10  # type: ignore[attr-defined]
    image = root / "rgb" / "a.bmp"
    size = image.stat().st_size
    replace_keeping_times([image, root / "depth" / "a.png"], lambda: rgbd_folder(root, 200))
    assert image.stat().st_size == size
    second = build_dataset(cfg, "all", progress=False)
    assert second.directory != first.directory  # type: ignore[attr-defined]
    assert int(second.arrays()["image"].min()) == 200  # type: ignore[attr-defined]
    # The same files (times kept) under another root, both cached in one --cache-dir: a cache each.
    shutil.copytree(root, tmp_path / "copy", copy_function=shutil.copy2)
    shared = str(tmp_path / "shared")
    here = build_dataset(DataConfig(**{**cfg.__dict__, "cache_dir": shared}), "all", progress=False)
    there = build_dataset(
        DataConfig(**{**cfg.__dict__, "cache_dir": shared, "root": str(tmp_path / "copy")}),
        "all",
        progress=False,
    )
    assert here.directory.parent == there.directory.parent  # type: ignore[attr-defined]
    assert here.directory != there.directory  # type: ignore[attr-defined]

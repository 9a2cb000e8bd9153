"""The sample contract, the by-sequence split and the preprocessing cache (on a tiny synthetic set)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import ssrdepth.data.arrays as arrays
from ssrdepth.data import DataConfig, build_dataset, generate_synthetic, split_indices


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("syn") / "set"
    generate_synthetic(root, 8, seed=5, size=(48, 160), sequence_length=2, workers=1, progress=False)
    return root


def test_split_by_hand() -> None:
    # One group: a contiguous cut, round(0.8 × 10) = 8 frames train.
    assert split_indices(["s"] * 10, "train", 0.8) == list(range(8))
    assert split_indices(["s"] * 10, "test", 0.8) == [8, 9]
    # Groups a (frames 0–2), b (3–7), c (8–9). NumPy's default_rng(0).permutation(3) is [2, 0, 1]
    # (PCG64, stable across NumPy versions), so the shuffled order is c, a, b and the prefixes hold
    # 2 (c) and 5 (c + a) frames. Ratio 0.5 → 5 frames wanted: |2 − 5| = 3, |5 − 5| = 0 → c and a train.
    groups = ["a"] * 3 + ["b"] * 5 + ["c"] * 2
    assert np.random.default_rng(0).permutation(3).tolist() == [2, 0, 1]
    assert split_indices(groups, "train", 0.5, seed=0) == [0, 1, 2, 8, 9]
    assert split_indices(groups, "test", 0.5, seed=0) == [3, 4, 5, 6, 7]
    # Ratio 0.3 → 3 frames wanted: |2 − 3| = 1 beats |5 − 3| = 2 → c alone trains.
    assert split_indices(groups, "train", 0.3, seed=0) == [8, 9]
    # Seed 1: permutation(3) is [0, 1, 2] → order a, b, c, prefixes 3 and 8 frames; 0.5 → a alone.
    assert np.random.default_rng(1).permutation(3).tolist() == [0, 1, 2]
    assert split_indices(groups, "train", 0.5, seed=1) == [0, 1, 2]
    with pytest.raises(ValueError, match="valid splits: train, test, all"):
        split_indices(groups, "val", 0.5)


def test_split_keeps_groups_whole_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    groups = [f"{g:04d}" for g in rng.integers(0, 21, 600)]
    for seed in range(5):
        train = split_indices(groups, "train", 0.832, seed)
        test = split_indices(groups, "test", 0.832, seed)
        assert sorted(train + test) == list(range(600)) and not set(train) & set(test)
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        assert train == split_indices(groups, "train", 0.832, seed)
        assert abs(len(train) / 600 - 0.832) < 0.1


def test_sample_contract_and_grayscale(synthetic_root: Path) -> None:
    cfg = DataConfig(
        source="synthetic", root=str(synthetic_root), target="depth", max_depth=80.0, size=(24, 80)
    )
    rgb_cfg = DataConfig(**{**cfg.__dict__, "channels": 3})
    ds = build_dataset(cfg, "train", cache=False)
    rgb = build_dataset(rgb_cfg, "train", cache=False)
    assert 0 < len(ds) < 8 and len(build_dataset(cfg, "test", cache=False)) == 8 - len(ds)
    sample = ds[1]
    assert set(sample) == {"image", "target", "valid_mask", "depth", "index"} and sample["index"] == 1
    assert sample["image"].shape == (1, 24, 80) and sample["image"].dtype == torch.float32
    assert rgb[1]["image"].shape == (3, 24, 80)
    assert sample["target"].shape == sample["valid_mask"].shape == sample["depth"].shape == (1, 24, 80)
    assert sample["valid_mask"].dtype == torch.bool
    assert sample["target"].min() >= 0.0 and sample["target"].max() <= 1.0
    # Exact depth target: normalised = depth / 80 m (clipped at 1) where valid; sky is invalid and 0.
    valid = sample["valid_mask"]
    torch.testing.assert_close(sample["target"][valid], (sample["depth"][valid] / 80.0).clamp(max=1.0))
    assert (sample["depth"][~valid] == 0).all() and 0.7 < valid.float().mean() < 1.0
    # Grayscale = ITU-R BT.601 luma of the resized RGB image (to the two 8-bit roundings: the grey
    # model resizes the luma of the full image, core.image.prepare_image).
    r, g, b = (rgb[1]["image"][c] for c in range(3))
    torch.testing.assert_close(sample["image"][0], 0.299 * r + 0.587 * g + 0.114 * b, atol=2 / 255, rtol=0)
    meta = ds.meta(1)
    assert (
        meta["source"] == "synthetic" and meta["file"].endswith(".png") and meta["scale"]["max_value"] == 80.0
    )
    assert ds.scale.kind == "depth"


def test_cache_is_built_once_matches_and_is_invalidated(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = DataConfig(
        source="synthetic",
        root=str(synthetic_root),
        target="depth",
        max_depth=80.0,
        size=(24, 80),
        cache_dir=str(tmp_path / "cache"),
    )
    builds = []
    real_build = arrays._build
    monkeypatch.setattr(arrays, "_build", lambda *a: builds.append(1) or real_build(*a))
    cached = build_dataset(cfg, "all", progress=False)
    again = build_dataset(cfg, "all", progress=False)
    assert len(builds) == 1 and again.directory == cached.directory
    plain = build_dataset(cfg, "all", cache=False)
    loader = DataLoader(cached, batch_size=4)
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 1, 24, 80) and batch["index"].tolist() == [0, 1, 2, 3]
    for i in range(len(plain)):
        for key in ("image", "target", "valid_mask", "depth"):
            assert torch.equal(cached[i][key], plain[i][key]), key
    assert cached.meta(3) == plain.meta(3)
    # Another size: another cache; a changed input file: another cache with the new content.
    build_dataset(DataConfig(**{**cfg.__dict__, "size": (12, 40)}), "all", progress=False)
    assert len(builds) == 2
    depth_png = synthetic_root / "training/depth/0000/000000.png"
    original = depth_png.read_bytes()
    try:
        png = cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(depth_png), np.where(png > 0, 256 * 40, 0).astype(np.uint16))  # everything at 40 m
        stat = depth_png.stat()
        os.utime(depth_png, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        changed = build_dataset(cfg, "all", progress=False)
        assert len(builds) == 3 and changed.directory != cached.directory
        d = changed[0]["depth"]
        assert torch.allclose(d[changed[0]["valid_mask"]], torch.tensor(40.0))
    finally:
        depth_png.write_bytes(original)


def test_cache_folder_and_rendered_files_follow_the_umask(tmp_path: Path) -> None:
    """Under umask 022 the rendered images are 0644 and the cache folder 0755 (were 0600 / 0700)."""
    old = os.umask(0o022)
    try:
        root = tmp_path / "set"
        generate_synthetic(root, 4, seed=5, size=(48, 160), sequence_length=2, workers=1, progress=False)
        cfg = DataConfig(
            source="synthetic", root=str(root), target="depth", size=(24, 80), cache_dir=str(tmp_path / "c")
        )
        cached = build_dataset(cfg, "all", progress=False)
    finally:
        os.umask(old)
    pngs = sorted(root.rglob("*.png"))
    assert pngs and {p.stat().st_mode & 0o777 for p in pngs} == {0o644}
    assert cached.directory.stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in cached.directory.iterdir()} == {0o644}


def test_skipped_files_are_listed_up_to_ten_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from ssrdepth.data.sample import report_skipped

    skipped = [(f"left/{i:03d}.png", "no cached stereo target") for i in range(23)] + [("x.png", "truncated")]
    with caplog.at_level(logging.DEBUG, logger="ssrdepth"):
        report_skipped(skipped)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    lines = warning.getMessage().splitlines()
    assert lines[0] == "skipped 24 bad sample(s):"
    assert lines[1:11] == [f"  left/{i:03d}.png: no cached stereo target" for i in range(10)]
    assert lines[11:] == ["  … and 14 more (13 × 'no cached stereo target', 1 × 'truncated'; each at DEBUG)"]
    assert sum("skipped left/" in r.getMessage() for r in caplog.records) == 23

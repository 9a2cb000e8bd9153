"""The target cache: KITTI 16-bit PNG encoding by hand, manifest, settings isolation, key rules."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.stereo.cache import TargetCache, read_disparity_png, write_disparity_png
from ssrdepth.stereo.matching import default_settings, settings_hash


def test_png_encoding_by_hand(tmp_path: Path) -> None:
    disparity = np.array([[0.0, 1.5, 100.25, 300.0], [-1.0, np.nan, 0.001, 7.0]], dtype=np.float32)
    valid = np.array([[True, True, True, True], [True, True, True, False]])
    path = tmp_path / "d.png"
    write_disparity_png(path, disparity, valid)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    # ×256: 1.5 → 384, 100.25 → 25664, 300 → clipped to 65535; 0.001 → at least 1; invalid,
    # negative, NaN, zero → 0.
    np.testing.assert_array_equal(raw, [[0, 384, 25664, 65535], [0, 0, 1, 0]])
    back, back_valid = read_disparity_png(path)
    np.testing.assert_array_equal(back_valid, raw > 0)
    np.testing.assert_allclose(back[0, :3], [0.0, 1.5, 100.25])
    assert back.dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["d.png"]  # no temporary file left behind


def test_round_trip_is_within_half_a_step(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    disparity = rng.uniform(0.01, 255.0, (20, 30)).astype(np.float32)
    valid = rng.random((20, 30)) > 0.3
    cache = TargetCache(tmp_path, default_settings("bm"))
    cache.write("seq/0001", disparity, valid)
    back, back_valid = cache.read("seq/0001")
    np.testing.assert_array_equal(back_valid, valid)
    assert np.abs(back - disparity)[valid].max() <= 0.5 / 256 + 1e-6
    assert np.all(back[~valid] == 0)


def test_layout_manifest_and_settings_isolation(tmp_path: Path) -> None:
    sgm = default_settings("sgm")
    cache = TargetCache(tmp_path, sgm)
    assert cache.directory == tmp_path / "targets" / f"sgm-{settings_hash(sgm)}"
    assert cache.path_for("0003/000012") == cache.directory / "0003" / "000012.png"
    assert cache.keys() == [] and "a" not in cache
    cache.write("b", np.ones((2, 2), np.float32), None)
    cache.write("a/x", np.ones((2, 2), np.float32), None)
    assert cache.keys() == ["a/x", "b"] and cache.has("b")
    manifest = json.loads((cache.directory / "manifest.json").read_text())
    assert manifest["method"] == "sgm" and manifest["hash"] == settings_hash(sgm)
    assert manifest["settings"]["max_disparity"] == 192 and "256" in manifest["format"]
    # Other settings: another folder, nothing reused.
    other = TargetCache(tmp_path, default_settings("sgm", block_size=7))
    assert other.directory != cache.directory and other.keys() == [] and "b" not in other
    with pytest.raises(FileNotFoundError, match="run 'ssrdepth prepare-targets'"):
        other.read("b")
    # A manifest that disagrees with the folder name (edited by hand) is refused.
    manifest["settings"]["block_size"] = 9
    (cache.directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="other settings"):
        TargetCache(tmp_path, sgm).write("c", np.ones((2, 2), np.float32))


def test_for_config_uses_the_cache_root(tmp_path: Path) -> None:
    from ssrdepth.data.config import DataConfig

    cfg = DataConfig(source="kitti-raw", root=str(tmp_path / "kitti"), matcher="bm")
    cache = TargetCache.for_config(cfg)
    assert cache.method == "bm"
    assert cache.directory.parent == tmp_path / "kitti" / ".ssrdepth" / "targets"


def test_bad_keys_and_files(tmp_path: Path) -> None:
    cache = TargetCache(tmp_path)
    for key in ("", "/abs", "../up", "a/../../b", "dir/"):
        with pytest.raises(ValueError, match="invalid target key"):
            cache.path_for(key)
    (tmp_path / "rgb.png").write_bytes(cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))[1].tobytes())
    with pytest.raises(ValueError, match="not a 16-bit single-channel"):
        read_disparity_png(tmp_path / "rgb.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"junk\.png"):
        read_disparity_png(tmp_path / "junk.png")
    with pytest.raises(ValueError, match="does not fit the 16-bit PNG"):
        TargetCache(tmp_path, default_settings("sgm", max_disparity=320))

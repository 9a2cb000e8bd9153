"""Stereo and RGB-D folders: name patterns, declared depth scales, bad input; the real RGB-D frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ssrdepth.data import DataConfig, build_dataset, build_source, list_stereo_pairs

from .conftest import noise_image, write_png


def test_stereo_folder_pattern_with_subfolders(tmp_path: Path) -> None:
    for seq in ("walk_a", "walk_b"):
        for k in range(2):
            write_png(tmp_path / seq / f"{k:03d}_L.png", noise_image(k))
            write_png(tmp_path / seq / f"{k:03d}_R.png", noise_image(k + 10))
    (tmp_path / "walk_a" / "notes.txt").write_text("ignored")
    cfg = DataConfig(
        source="stereo-folder",
        root=str(tmp_path),
        pattern=("{name}_L.png", "{name}_R.png"),
        focal=700.0,
        baseline=0.12,
    )
    pairs = list_stereo_pairs(cfg)
    assert [p.key for p in pairs] == ["walk_a/000", "walk_a/001", "walk_b/000", "walk_b/001"]
    assert pairs[2].right == tmp_path / "walk_b" / "000_R.png"
    assert pairs[0].focal == 700.0 and pairs[0].baseline == 0.12
    assert [f.group for f in build_source(cfg).frames] == ["walk_a", "walk_a", "walk_b", "walk_b"]
    with pytest.raises(ValueError, match="needs the rig: focal"):
        list_stereo_pairs(DataConfig(source="stereo-folder", root=str(tmp_path), pattern=cfg.pattern))
    with pytest.raises(ValueError, match=r"no stereo pairs matching 'left/\{name\}\.png'"):
        list_stereo_pairs(DataConfig(source="stereo-folder", root=str(tmp_path), focal=1.0, baseline=1.0))


@pytest.mark.shared_data
def test_real_stereo_pairs_through_the_stereo_folder(shared_data: Path) -> None:
    cfg = DataConfig(
        source="stereo-folder",
        root=str(shared_data / "urban_stereo"),
        pattern=("{name}_left.pgm", "{name}_right.pgm"),
        focal=1000.0,  # a plausible rig (68° across 1344 px); tested here: the pairing and the equal sizes
        baseline=1.0,
    )
    pairs = list_stereo_pairs(cfg)
    assert [p.key for p in pairs] == ["urban1", "urban2", "urban3", "urban4"]
    assert pairs[3].right == shared_data / "urban_stereo" / "urban4_right.pgm"


def write_rgbd(root: Path, depth: np.ndarray, name: str = "f0") -> None:
    write_png(root / "rgb" / f"{name}.png", noise_image(1, depth.shape[:2]))
    write_png(root / "depth" / f"{name}.png", depth)


def test_rgbd_folder_scales_and_invalid_value(tmp_path: Path) -> None:
    raw = np.array([[0, 1000, 2500, 65535]] * 16, np.uint16).repeat(8, axis=1)  # 16×32
    write_rgbd(tmp_path, raw)
    source = build_source(
        DataConfig(
            source="rgbd-folder", root=str(tmp_path), target="depth", depth_scale=1000.0, depth_invalid=65535
        )
    )
    # Millimetres: 1000 → 1 m, 2500 → 2.5 m; 0 and the declared invalid value → unknown (0).
    np.testing.assert_allclose(source.depth(0)[0, ::8], [0.0, 1.0, 2.5, 0.0])
    tum = build_source(
        DataConfig(source="rgbd-folder", root=str(tmp_path), target="depth", depth_scale=5000.0)
    )
    np.testing.assert_allclose(tum.depth(0)[0, ::8], [0.0, 0.2, 0.5, 13.107])


def test_rgbd_folder_honours_the_scale_recorded_by_predict(tmp_path: Path) -> None:
    """A depth PNG written by ``predict`` (×256, recorded in the file) reads in metres even where the
    folder declares millimetres: 70 m and 80 m come back as 70 and 80 (×1000 would read 17.92, 20.48)."""
    from ssrdepth.inference.outputs import write_png16

    write_png(tmp_path / "rgb" / "f0.png", noise_image(1, (16, 32)))
    depth = np.full((16, 32), 70.0, np.float32)
    depth[:, 16:] = 80.0
    write_png16(tmp_path / "depth" / "f0.png", depth, "depth", {"quantity": "depth"})
    source = build_source(
        DataConfig(source="rgbd-folder", root=str(tmp_path), target="depth", depth_scale=1000.0)
    )
    np.testing.assert_array_equal(source.depth(0)[0, ::16], [70.0, 80.0])


def test_resize_never_mixes_invalid_into_valid(tmp_path: Path) -> None:
    # Columns 0–6 invalid, 7–18 at 1 m, 19–31 at 2.5 m; shrink 32 → 16 columns (2 inputs each).
    raw = np.zeros((16, 32), np.uint16)
    raw[:, 7:19], raw[:, 19:] = 1000, 2500
    write_rgbd(tmp_path, raw)
    cfg = DataConfig(
        source="rgbd-folder", root=str(tmp_path), target="depth", depth_scale=1000.0, size=(8, 16)
    )
    sample = build_dataset(cfg, "all", cache=False)[0]
    # Output column j averages the *valid* inputs 2j, 2j+1 (column 3 = inputs 6, 7 → 1 m, not 0.5);
    # the mask is the nearest input's (2j): column 3 stays invalid, column 9 (18, 19) averages 1.75.
    expected = np.array([0, 0, 0, 0] + [1.0] * 5 + [1.75] + [2.5] * 6)
    for row in range(8):
        np.testing.assert_allclose(sample["depth"][0, row].numpy(), expected, rtol=1e-6)
        assert sample["valid_mask"][0, row].tolist() == [False] * 4 + [True] * 12
    np.testing.assert_allclose(sample["target"][0, 0].numpy(), expected / 10.0, rtol=1e-6)


def test_rgbd_bad_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="no RGB-D frames matching"):
        build_source(DataConfig(source="rgbd-folder", root=str(tmp_path), target="depth", depth_scale=1000.0))
    with pytest.raises(ValueError, match="needs depth_scale"):
        build_source(DataConfig(source="rgbd-folder", root=str(tmp_path), target="depth"))
    write_rgbd(tmp_path, np.full((8, 8), 1200, np.uint16), "good")
    write_rgbd(tmp_path, np.full((8, 8), 120, np.uint8), "eight_bit")
    write_png(tmp_path / "rgb" / "orphan.png", noise_image(3, (8, 8)))
    cfg = DataConfig(
        source="rgbd-folder", root=str(tmp_path), target="depth", depth_scale=1000.0, size=(8, 8)
    )
    with pytest.raises(ValueError, match=r"depth/orphan\.png: depth map missing"):
        build_source(cfg)
    skipping = DataConfig(**{**cfg.__dict__, "skip_bad": True})
    ds = build_dataset(skipping, "all", progress=False)  # the cache build decodes and skips the 8-bit map
    assert len(ds) == 1 and ds.meta(0)["key"] == "good"
    err = caplog.text
    assert "skipped 2 bad sample(s)" in err
    assert "orphan.png: depth map missing" in err
    assert "eight_bit.png: depth map has dtype uint8; expected 16-bit integers or floats" in err
    torch.testing.assert_close(ds[0]["depth"], torch.full((1, 8, 8), 1.2))


@pytest.mark.shared_data
def test_real_rgbd_frames_with_their_declared_scales(shared_data: Path, tmp_path: Path) -> None:
    frames = shared_data / "rgbd_frames"
    kinect = DataConfig(
        source="rgbd-folder",
        root=str(frames),
        target="depth",
        pattern=("{name}_rgb.png", "{name}_depth_mm.png"),
        depth_scale=1000.0,
        channels=3,
        size=(240, 320),
        cache_dir=str(tmp_path / "cache"),  # never write into the shared folder
    )
    source = build_source(kinect)
    assert len(source.frames) == 4
    for i, frame in enumerate(source.frames):
        raw = cv2.imread(str(frame.depth), cv2.IMREAD_UNCHANGED)
        depth = source.depth(i)
        assert depth is not None and depth.shape == (480, 640) == source.image(i).shape[:2]
        np.testing.assert_allclose(depth, raw / 1000.0, rtol=1e-6)  # millimetres, 0 = invalid
        known = depth[depth > 0]
        assert 0.3 < np.median(known) < 6.0 and known.max() < 10.0  # a Kinect indoors
    ds = build_dataset(kinect, "all", progress=False)
    assert len(ds) == 4 and ds[0]["image"].shape == (3, 240, 320) and ds.scale.max_value == 10.0

    # One frame pair: {name} matches the shared suffix ".png".
    tum = DataConfig(
        source="rgbd-folder",
        root=str(frames),
        target="depth",
        pattern=("TUM_color{name}", "TUM_depth{name}"),
        depth_scale=5000.0,
    )
    tum_source = build_source(tum)
    assert len(tum_source.frames) == 1
    depth = tum_source.depth(0)
    raw = cv2.imread(str(frames / "TUM_depth.png"), cv2.IMREAD_UNCHANGED)
    assert depth is not None
    np.testing.assert_allclose(depth, raw / 5000.0, rtol=1e-6)  # TUM RGB-D: 5000 per metre
    assert 1.0 < np.median(depth[depth > 0]) < 4.0


def test_parallel_cache_build_reports_bad_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # 64 frames: the cache is built by 2 worker processes; errors travel back naming the file.
    for k in range(64):
        depth = np.full((8, 8), 1000 + k, np.uint16) if k != 37 else np.full((8, 8, 3), 9, np.uint8)
        write_rgbd(tmp_path / "data", depth, f"{k:03d}")
    cfg = DataConfig(
        source="rgbd-folder", root=str(tmp_path / "data"), target="depth", depth_scale=1000.0, size=(8, 8)
    )
    with pytest.raises(
        ValueError, match=r"depth/037\.png: depth map has shape \(8, 8, 3\); expected one channel"
    ):
        build_dataset(cfg, "all", progress=False)
    ds = build_dataset(DataConfig(**{**cfg.__dict__, "skip_bad": True}), "all", progress=False)
    assert len(ds) == 63 and "depth/037.png" in caplog.text
    assert ds.meta(37)["key"] == "038"
    torch.testing.assert_close(ds[37]["depth"], torch.full((1, 8, 8), 1.038))


def test_frames_of_another_suffix_are_named_not_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pattern asking for .png beside photos saved as .jpg / .HEIC: none matching is an error that
    names them and gives the --pattern that takes them; some left out beside matches are a warning."""
    import shlex

    import cv2

    from ssrdepth.data.folders import rgbd_folder, stereo_folder

    rgb = np.full((8, 12, 3), 90, np.uint8)
    for side in ("left", "right"):
        (tmp_path / "rig" / side).mkdir(parents=True)
        for name in ("a", "b"):
            cv2.imwrite(str(tmp_path / "rig" / side / f"{name}.jpg"), rgb)
    with pytest.raises(ValueError) as err:
        stereo_folder(tmp_path / "rig", focal=10.0, baseline=0.5)
    text = str(err.value)
    assert "no stereo pairs matching 'left/{name}.png'" in text and "2 file(s) like left/a.jpg" in text
    fix = shlex.split(text.split("give ")[-1])
    assert fix == ["--pattern", "left/{name}.jpg", "right/{name}.jpg"]
    assert len(stereo_folder(tmp_path / "rig", tuple(fix[1:]), focal=10.0, baseline=0.5).frames) == 2  # type: ignore[arg-type]
    # RGB-D: the colour image's suffix changes, the depth map stays a PNG.
    (tmp_path / "rgbd" / "rgb").mkdir(parents=True)
    (tmp_path / "rgbd" / "depth").mkdir()
    cv2.imwrite(str(tmp_path / "rgbd" / "rgb" / "a.png"), rgb)
    (tmp_path / "rgbd" / "rgb" / "b.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "rgbd" / "depth" / f"{name}.png"), np.full((8, 12), 2000, np.uint16))
    with caplog.at_level("WARNING", logger="ssrdepth"):
        src = rgbd_folder(tmp_path / "rgbd", depth_scale=1000.0)
    assert [f.key for f in src.frames] == ["a"]
    warning = caplog.text
    assert "1 file(s) like rgb/b.HEIC" in warning and "pillow-heif" in warning
    assert "--pattern 'rgb/{name}.HEIC' 'depth/{name}.png'" in warning

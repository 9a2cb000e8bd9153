"""Output writers: encodings worked out by hand, round trips, metadata, point-cloud geometry, video."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ssrdepth.inference.outputs import (
    SideBySideWriter,
    colorize,
    depth_to_points,
    encode_png16,
    read_pfm,
    read_ply,
    read_png16,
    read_png_meta,
    sidecar_path,
    value_range,
    write_color_png,
    write_npy,
    write_pfm,
    write_ply,
    write_png16,
)

META = {"quantity": "disparity", "unit": "px", "model": "SCRX", "input_size": [37, 147]}


def test_png16_disparity_follows_the_kitti_convention(tmp_path: Path) -> None:
    # KITTI devkit: disparity = png / 256, 0 = invalid. By hand: 1.5·256 = 384, 100.25·256 = 25664,
    # 300 px saturates at 65535, NaN and negatives become 0 (invalid), 0.001 px rounds to 0.
    disp = np.array([[1.5, 100.25, 300.0], [np.nan, -2.0, 0.001]], np.float32)
    assert encode_png16(disp, "disparity").tolist() == [[384, 25664, 65535], [0, 0, 0]]
    path = write_png16(tmp_path / "d.png", disp, "disparity", META)
    with Image.open(path) as img:
        assert img.mode.startswith("I;16") and img.size == (3, 2)
        assert "disparity [px] = value / 256" in img.text["Description"]
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.tolist() == [[384, 25664, 65535], [0, 0, 0]]
    values, meta = read_png16(path)
    assert values[0, :2].tolist() == [1.5, 100.25]
    assert meta["model"] == "SCRX" and meta["png_scale"] == 256.0
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_png16_depth_follows_the_kitti_convention(tmp_path: Path) -> None:
    # KITTI depth devkit: depth = png / 256, 0 = invalid. By hand: 12.3456·256 = 3160.47 → 3160,
    # 0.001·256 = 0.256 → 0, 70·256 = 17920, 80·256 = 20480, 300·256 = 76800 saturates at 65535.
    depth = np.array([[12.3456, 0.001, 70.0, 80.0, 300.0]], np.float32)
    assert encode_png16(depth, "depth").tolist() == [[3160, 0, 17920, 20480, 65535]]
    assert encode_png16(np.array([[0.5, 1.0]]), "normalised").tolist() == [[32768, 65535]]
    with pytest.raises(ValueError, match="unknown quantity"):
        encode_png16(depth, "metres")
    # 70 m and 80 m (the kitti protocol's cap) come back distinct and within 1/256 m (were both 65.535).
    far = np.array([[70.0, 80.0, 79.99, 3.1416]], np.float32)
    path = write_png16(tmp_path / "far.png", far, "depth", {"quantity": "depth"})
    values, meta = read_png16(path)
    assert meta["png_scale"] == 256.0
    assert np.all(np.abs(values - far) <= 1 / 256) and len(set(values[0].tolist())) == 4
    assert values[0, :2].tolist() == [70.0, 80.0]


def test_png16_readers_honour_the_recorded_scale(tmp_path: Path) -> None:
    # A file written in millimetres (png_scale 1000, as before ×256) still reads 12.346 m; a file that
    # records only its quantity gets that quantity's default (depth ×256); none at all is refused.
    raw = np.array([[12346, 20480]], np.uint16)

    def save(name: str, meta: dict[str, object] | None) -> Path:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        if meta is not None:
            info.add_text("ssrdepth", json.dumps(meta))
        Image.fromarray(raw).save(tmp_path / name, format="PNG", pnginfo=info)
        return tmp_path / name

    values, _ = read_png16(save("mm.png", {"quantity": "depth", "png_scale": 1000.0}))
    assert values[0].tolist() == pytest.approx([12.346, 20.48])
    values, _ = read_png16(save("default.png", {"quantity": "depth"}))
    assert values.tolist() == [[12346 / 256, 80.0]]
    with pytest.raises(ValueError, match=r"none\.png: not a 16-bit map written by ssrdepth"):
        read_png16(save("none.png", None))


def test_npy_and_pfm_round_trip_with_sidecars(tmp_path: Path) -> None:
    values = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    write_npy(tmp_path / "m.npy", values, META)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), values)
    side = json.loads(sidecar_path(tmp_path / "m.npy").read_text())
    assert side["file"] == "m.npy" and side["quantity"] == "disparity" and side["dtype"] == "float32"

    write_pfm(tmp_path / "m.pfm", values, META)
    raw = (tmp_path / "m.pfm").read_bytes()
    header = b"Pf\n4 3\n-1.0\n"
    assert raw.startswith(header)
    # PFM stores rows bottom to top: the first stored row is the image's last row.
    first_row = np.frombuffer(raw[len(header) : len(header) + 16], "<f4")
    np.testing.assert_array_equal(first_row, values[2])
    np.testing.assert_array_equal(read_pfm(tmp_path / "m.pfm"), values)
    assert json.loads((tmp_path / "m.pfm.json").read_text())["layout"].startswith("PFM")


def test_colour_map_ranges(tmp_path: Path) -> None:
    values = np.arange(101, dtype=np.float32).reshape(1, 101)
    assert value_range(values) == pytest.approx((1.0, 99.0))  # 1st and 99th percentile of 0..100
    assert value_range(values, (0.0, 80.0)) == (0.0, 80.0)
    with pytest.raises(ValueError, match="MAX > MIN"):
        value_range(values, (5.0, 5.0))
    rgb = colorize(values, "gray", 0.0, 100.0)
    # The grey map is the identity on its 256-entry table: t = v/100 falls in bin min(⌊256·t⌋, 255),
    # whose grey level is that bin's index (−1 where the float → byte conversion truncates).
    expected = np.minimum(np.floor(256 * values[0].astype(np.float64) / 100), 255)
    diff = expected - rgb[0, :, 0]
    assert diff.min() >= 0 and diff.max() <= 1
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, -1].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="unknown colour map"):
        colorize(values, "no-such-map", 0, 1)
    path = write_color_png(tmp_path / "c.png", values, META, "magma", (10.0, 20.0))
    meta = read_png_meta(path)
    assert meta["colormap"] == "magma" and meta["range"] == [10.0, 20.0] and meta["range_kind"] == "fixed"
    with Image.open(path) as img:
        assert img.mode == "RGB" and img.size == (101, 1)


def test_back_projection_by_hand(tmp_path: Path) -> None:
    depth = np.zeros((3, 5), np.float32)
    depth[1, 3] = 2.0  # pixel u=3, v=1
    depth[2, 0] = 4.0  # u=0, v=2
    depth[0, 0] = 50.0  # beyond max_depth
    image = np.zeros((3, 5, 3), np.uint8)
    image[1, 3] = (10, 20, 30)
    # fx=2, fy=4, cx=1, cy=1: X = (u−cx)Z/fx, Y = (v−cy)Z/fy
    pts, cols = depth_to_points(depth, (2.0, 4.0, 1.0, 1.0), image, max_depth=10.0)
    assert pts.tolist() == [[2.0, 0.0, 2.0], [-2.0, 1.0, 4.0]]
    assert cols is not None and cols.tolist() == [[10, 20, 30], [0, 0, 0]]
    write_ply(tmp_path / "p.ply", pts, cols, META)
    rec = read_ply(tmp_path / "p.ply")
    assert len(rec) == 2 and rec["z"].tolist() == [2.0, 4.0] and rec["red"].tolist() == [10, 0]
    head = (tmp_path / "p.ply").read_bytes().split(b"end_header")[0].decode()
    assert 'comment model: "SCRX"' in head and "element vertex 2" in head
    assert json.loads((tmp_path / "p.ply.json").read_text())["points"] == 2


def test_side_by_side_video(tmp_path: Path) -> None:
    writer = SideBySideWriter(tmp_path / "v.mp4", fps=12.0)
    frame = np.full((32, 48, 3), 100, np.uint8)
    for _ in range(5):
        writer.write(frame, np.zeros_like(frame))
    assert not (tmp_path / "v.mp4").exists(), "the video appears only when finished"
    assert writer.close({"model": "C"}) == tmp_path / "v.mp4"
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    n, shape = 0, None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        n, shape = n + 1, f.shape
    cap.release()
    assert n == 5 and shape == (32, 96, 3)
    side = json.loads((tmp_path / "v.mp4.json").read_text())
    assert side["frames"] == 5 and side["fps"] == 12.0 and side["model"] == "C"


def test_colour_maps_without_matplotlib_match_it() -> None:
    """OpenCV's tables stand in for matplotlib in the minimal install: within 1 of its bytes."""
    from matplotlib import colormaps

    from ssrdepth.inference.outputs import _opencv_lut

    t = np.linspace(0.0, 1.0, 1001)
    for cmap in ("magma", "magma_r", "turbo", "viridis", "inferno", "plasma", "gray"):
        lut = _opencv_lut(cmap)
        assert lut is not None and lut.shape == (256, 3)
        ours = lut[np.minimum((t * 256).astype(np.int64), 255)].astype(int)
        assert np.abs(ours - colormaps[cmap](t, bytes=True)[:, :3].astype(int)).max() <= 1, cmap
    assert _opencv_lut("cubehelix") is None

"""Point clouds back-projected with the resolved camera (--focal, --calib, EXIF, the checkpoint's
training camera), checked point by point by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssrdepth.cli import main as cli
from ssrdepth.inference.outputs import read_ply
from ssrdepth.inference.predict import PredictOptions, load_model, predict_files

from .conftest import MakeCheckpoint, write_image

#: The constant checkpoint's disparity: 0.5 × 192 px at 1242 wide (KITTI_TARGET), baseline 0.54 m.
DISPARITY_1242 = 96.0
BASELINE = 0.54


def header(path: Path) -> dict[str, object]:
    """The PLY header's ``comment KEY: JSON`` lines."""
    head = path.read_bytes().split(b"end_header")[0].decode()
    out = {}
    for line in head.splitlines():
        if line.startswith("comment "):
            key, _, value = line[len("comment ") :].partition(": ")
            out[key] = json.loads(value)
    return out


def point(rec: np.ndarray, v: int, u: int, width: int) -> tuple[float, float, float]:
    """The record of pixel (row v, column u): the cloud keeps every pixel in row-major order."""
    r = rec[v * width + u]
    return float(r["x"]), float(r["y"]), float(r["z"])


def test_focal_only_puts_the_principal_point_at_the_centre(
    make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    ckpt = make_checkpoint("C", 1, constant=0.5)
    write_image(tmp_path / "x.png", 20, 621)
    rc = cli(["predict", str(ckpt), str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), "--save", "ply",
              "--focal", "200", "--no-progress"])  # fmt: skip
    assert rc == 0
    rec = read_ply(tmp_path / "o" / "x.ply")
    assert len(rec) == 20 * 621
    # d = 96 px × 621/1242 = 48 px; Z = 200 px · 0.54 m / 48 px = 2.25 m; cx = 621/2 = 310.5, cy = 10
    z = 200.0 * BASELINE / (DISPARITY_1242 * 621 / 1242)
    assert z == pytest.approx(2.25)
    assert point(rec, 0, 0, 621) == pytest.approx((-310.5 * 2.25 / 200, -10 * 2.25 / 200, 2.25), rel=1e-5)
    assert point(rec, 19, 620, 621) == pytest.approx((309.5 * 2.25 / 200, 9 * 2.25 / 200, 2.25), rel=1e-5)
    assert point(rec, 10, 310, 621) == pytest.approx((-0.5 * 2.25 / 200, 0.0, 2.25), rel=1e-5, abs=1e-7)
    meta = header(tmp_path / "o" / "x.ply")
    assert meta["camera"] == {"fx": 200.0, "fy": 200.0, "cx": 310.5, "cy": 10.0, "width": 621, "height": 20,
                              "source": "--focal"}  # fmt: skip
    assert meta["focal_source"] == "--focal" and meta["focal_px"] == 200.0
    side = json.loads((tmp_path / "o" / "x.ply.json").read_text())
    assert side["camera"] == meta["camera"] and side["intrinsics"] == [200.0, 200.0, 310.5, 10.0]


def test_a_calibration_file_gives_the_whole_camera(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("C", 1, constant=0.5)
    write_image(tmp_path / "x.png", 20, 621)
    calib = tmp_path / "cam.json"
    calib.write_text(json.dumps({"camera_matrix": [[400, 0, 300], [0, 410, 8], [0, 0, 1]], "image_width": 621,
                                 "image_height": 20}))  # fmt: skip
    report = predict_files(
        load_model(ckpt), [tmp_path / "x.png"], tmp_path / "o",
        PredictOptions(outputs=("ply",), calib=str(calib)), progress=False,
    )  # fmt: skip
    assert not report.failures
    rec = read_ply(tmp_path / "o" / "x.ply")
    # Z = 400 · 0.54 / 48 = 4.5 m; X = (u − 300)·Z/400, Y = (v − 8)·Z/410
    assert point(rec, 0, 0, 621) == pytest.approx((-300 * 4.5 / 400, -8 * 4.5 / 410, 4.5), rel=1e-5)
    assert point(rec, 8, 300, 621) == pytest.approx((0.0, 0.0, 4.5), abs=1e-6)
    assert header(tmp_path / "o" / "x.ply")["focal_source"] == f"calib {calib} (camera_matrix)"


def test_the_photos_exif_focal_length(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("C", 1, constant=0.5)
    exif = Image.Exif()
    exif[0xA405] = 50  # FocalLengthIn35mmFilm: on a 3:2 frame fx = W · 50 / 36
    Image.fromarray(np.full((200, 300, 3), 120, np.uint8)).save(tmp_path / "p.jpg", exif=exif)
    report = predict_files(load_model(ckpt), [tmp_path / "p.jpg"], tmp_path / "o", PredictOptions(outputs=("ply",)),
                           progress=False)  # fmt: skip
    assert not report.failures
    fx = 300 * 50 / 36
    z = fx * BASELINE / (DISPARITY_1242 * 300 / 1242)  # 9.703125 m
    assert z == pytest.approx(9.703125)
    rec = read_ply(tmp_path / "o" / "p.ply")
    assert point(rec, 0, 0, 300) == pytest.approx((-150 * z / fx, -100 * z / fx, z), rel=1e-4)
    meta = header(tmp_path / "o" / "p.ply")
    assert meta["focal_source"] == "EXIF FocalLengthIn35mmFilm 50 mm"
    assert meta["camera"]["fx"] == pytest.approx(fx, rel=1e-3)  # the diagonal rule: 3:2 exactly W·f35/36
    # --no-exif: the checkpoint's training camera instead (721.5 px at 1242 wide → 174.28 px at 300)
    predict_files(load_model(ckpt), [tmp_path / "p.jpg"], tmp_path / "n",
                  PredictOptions(outputs=("ply",), exif=False), progress=False)  # fmt: skip
    meta = header(tmp_path / "n" / "p.ply")
    assert meta["focal_source"] == "checkpoint (training camera)"
    assert meta["camera"]["fx"] == pytest.approx(721.5 * 300 / 1242)


def test_a_depth_model_without_a_training_focal_needs_a_camera(
    make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    ckpt = make_checkpoint("C", 1, target={"kind": "depth", "max_value": 80.0}, constant=0.25)
    write_image(tmp_path / "x.png", 12, 40)
    with pytest.raises(ValueError, match="records no training focal: give --focal PX"):
        predict_files(load_model(ckpt), [tmp_path / "x.png"], tmp_path / "o",
                      PredictOptions(outputs=("ply",), exif=False), progress=False)  # fmt: skip
    assert not (tmp_path / "o").exists()
    # With a focal: 0.25 × 80 m = 20 m everywhere (no training focal: the depth is not rescaled, and
    # its metadata says so); X = (u − 20)·20/50
    predict_files(load_model(ckpt), [tmp_path / "x.png"], tmp_path / "o",
                  PredictOptions(outputs=("ply",), focal=50.0), progress=False)  # fmt: skip
    rec = read_ply(tmp_path / "o" / "x.ply")
    assert point(rec, 0, 0, 40) == pytest.approx((-20 * 20 / 50, -6 * 20 / 50, 20.0), rel=1e-5)
    assert header(tmp_path / "o" / "x.ply")["camera"]["source"] == "--focal"

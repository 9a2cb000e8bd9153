"""The page's camera, as ``predict`` takes it: a focal length, a field of view, an uploaded calibration
file, the photo's EXIF (on by default), else the checkpoint's — in the maps and the point cloud, noted,
and written into the outputs' metadata."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssrdepth.core.image import read_image
from ssrdepth.inference.outputs import read_png16
from ssrdepth.inference.predict import load_model, predict
from ssrdepth.serve.service import Settings, UploadError, predict_image

from .conftest import make_checkpoint


def _rgb(h: int = 40, w: int = 120) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _camera(out: Path, stem: str) -> dict[str, object]:
    return dict(json.loads((out / f"{stem}.ply.json").read_text())["camera"])


def test_field_of_view_and_calibration_file(tmp_path: Path) -> None:
    model = load_model(make_checkpoint(tmp_path / "model.pt"))  # KITTI's rig: 721.5 px at 1242, 0.54 m
    rgb = _rgb()
    # 90° across 120 px: fx = 60 / tan(45°) = 60 px; principal point at the centre (60, 20)
    res = predict_image(model, rgb, Settings("depth", fov=90.0), tmp_path / "a", "x")
    np.testing.assert_allclose(res.values, predict(model, rgb, "depth", focal=60.0), rtol=1e-6)
    _, meta = read_png16(tmp_path / "a" / "x_depth.png")
    assert meta["focal_px"] == pytest.approx(60.0) and meta["focal_source"] == "--fov 90°"
    assert _camera(tmp_path / "a", "x") == pytest.approx(
        {"fx": 60.0, "fy": 60.0, "cx": 60.0, "cy": 20.0, "width": 120, "height": 40, "source": "--fov 90°"}
    )
    assert "camera: focal 60.0 px at 120 px wide, from --fov 90°" in res.notes
    # A calibration made at 240×80: at 120×40 every entry halves (fx 100, fy 105, cx 25, cy 9.5).
    calib = tmp_path / "cam.json"
    calib.write_text(
        json.dumps(
            {"camera_matrix": [[200, 0, 50], [0, 210, 19], [0, 0, 1]], "image_width": 240, "image_height": 80}
        )
    )
    res = predict_image(model, rgb, Settings("depth", calib=str(calib)), tmp_path / "b", "x")
    np.testing.assert_allclose(res.values, predict(model, rgb, "depth", focal=100.0), rtol=1e-6)
    cam = _camera(tmp_path / "b", "x")
    assert (cam["fx"], cam["fy"], cam["cx"], cam["cy"]) == pytest.approx((100.0, 105.0, 25.0, 9.5))
    # The focal field wins over the file (predict's precedence).
    res = predict_image(model, rgb, Settings("depth", focal=80.0, calib=str(calib)), tmp_path / "c", "x")
    assert _camera(tmp_path / "c", "x")["source"] == "--focal"


def test_the_photos_exif_on_by_default(tmp_path: Path) -> None:
    model = load_model(make_checkpoint(tmp_path / "model.pt"))
    exif = Image.Exif()
    exif[0xA405] = 36  # FocalLengthIn35mmFilm, defined on the diagonal
    photo = tmp_path / "p.jpg"
    Image.fromarray(_rgb()).save(photo, exif=exif)
    image = read_image(photo)
    fx = 36 * math.hypot(120, 40) / math.hypot(36, 24)  # 105.25 px
    res = predict_image(model, image, Settings("depth"), tmp_path / "a", "p", image_path=photo)
    np.testing.assert_allclose(res.values, predict(model, image, "depth", focal=fx), rtol=1e-5)
    _, meta = read_png16(tmp_path / "a" / "p_depth.png")
    assert meta["focal_source"] == "EXIF FocalLengthIn35mmFilm 36 mm"
    assert meta["focal_px"] == pytest.approx(fx, rel=1e-5)
    # Off: the checkpoint's training camera, 721.5 px at 1242 → 69.7 px at 120, and no camera note.
    res = predict_image(model, image, Settings("depth", exif=False), tmp_path / "b", "p", image_path=photo)
    _, meta = read_png16(tmp_path / "b" / "p_depth.png")
    assert meta["focal_source"] == "checkpoint (training camera)"
    assert meta["focal_px"] == pytest.approx(721.5 * 120 / 1242)
    assert _camera(tmp_path / "b", "p")["source"] == "checkpoint (training camera)"
    assert not res.notes


def test_bad_camera_settings_get_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "cam.json"
    bad.write_text(json.dumps({"focal": 3}))
    with pytest.raises(UploadError, match=r"the calibration file cam\.json: no camera matrix"):
        Settings(calib=str(bad))
    with pytest.raises(UploadError, match=r"field of view must be in \(0, 180\) degrees"):
        Settings(fov=200.0)

"""Declared units that cannot be right are recognised, and the option that fixes them is named
(issue 25, kind 6): millimetre depth maps read with --depth-scale 1, a scale given as metres per
value, a baseline in millimetres, a focal length in millimetres, a maximum depth in millimetres."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ssrdepth.data import DataConfig, build_dataset, build_source
from ssrdepth.inference.predict import PredictOptions

from .conftest import noise_image, write_png

#: A room seen by a Kinect, in millimetres: 1.2 m … 3.6 m, median 2,412 mm (16 × 32 px).
ROOM_MM = np.linspace(1200, 3624, 16 * 32).round().astype(np.uint16).reshape(16, 32)


def _rgbd(root: Path, depth: np.ndarray, name: str = "f0") -> Path:
    write_png(root / "rgb" / f"{name}.png", noise_image(1, depth.shape[:2]))
    if depth.dtype == np.uint16:
        write_png(root / "depth" / f"{name}.png", depth)
    else:
        (root / "depth").mkdir(parents=True, exist_ok=True)
        np.save(root / "depth" / f"{name}.npy", depth)
    return root


def _cfg(root: Path, scale: float, **kw: object) -> DataConfig:
    return DataConfig(
        source="rgbd-folder", root=str(root), target="depth", depth_scale=scale, size=(16, 32), **kw
    )  # fmt: skip


def test_millimetre_maps_with_scale_1_are_refused_with_the_fix(tmp_path: Path) -> None:
    root = _rgbd(tmp_path, ROOM_MM)
    depth_file = root / "depth" / "f0.png"
    assert np.median(ROOM_MM) == pytest.approx(2412, abs=1)
    with pytest.raises(
        ValueError,
        match=rf"{depth_file}: median depth 2,41\d m with --depth-scale 1 .*millimetres: use --depth-scale 1000",
    ):
        build_dataset(_cfg(root, 1.0), "all", cache=False)[0]
    # Metres per value (0.001) instead of values per metre: the reciprocal is named.
    with pytest.raises(ValueError, match=r"not metres per value: use --depth-scale 1000"):
        build_source(_cfg(root, 0.001)).depth(0)
    # The fix works: 2,412 mm → 2.412 m, target = depth / 10 m (rgbd-folder's default maximum).
    sample = build_dataset(_cfg(root, 1000.0), "all", cache=False)[0]
    assert float(sample["depth"].median()) == pytest.approx(2.412, abs=0.005)
    assert float(sample["target"].max()) == pytest.approx(0.3624, abs=1e-4) and sample["valid_mask"].all()


def test_metre_maps_read_as_millimetres_are_refused(tmp_path: Path) -> None:
    root = _rgbd(tmp_path, ROOM_MM.astype(np.float32) / 1000.0)  # float metres in .npy
    cfg = _cfg(root, 1000.0, pattern=("rgb/{name}.png", "depth/{name}.npy"))
    with pytest.raises(
        ValueError, match=r"f0\.npy: median depth 0\.0024\d* m .*look like metres: use --depth-scale 1\b"
    ):
        build_source(cfg).depth(0)
    assert float(np.median(build_source(_cfg(root, 1.0, pattern=cfg.pattern)).depth(0))) == pytest.approx(
        2.412, abs=0.005
    )


@pytest.mark.shared_data
def test_real_kinect_millimetres_with_scale_1(shared_data: Path, tmp_path: Path) -> None:
    cfg = DataConfig(
        source="rgbd-folder", root=str(shared_data / "rgbd_frames"), target="depth",
        pattern=("{name}_rgb.png", "{name}_depth_mm.png"), depth_scale=1.0, cache_dir=str(tmp_path),
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"_depth_mm\.png: median depth .* use --depth-scale 1000"):
        build_source(cfg).depth(0)


def test_clipping_nearly_everything_names_the_units(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Centimetres declared as millimetres: 10× too far (12 … 36 m indoors) but not impossible.
    root = _rgbd(tmp_path, (ROOM_MM * 10).astype(np.uint16))
    with caplog.at_level(logging.WARNING):
        build_dataset(_cfg(root, 1000.0), "all", cache=False)[0]
    assert "100.0 % of the valid target pixels are beyond max_depth 10 m" in caplog.text
    assert "more likely wrong units: check --depth-scale 1000 (stored value per metre" in caplog.text


def test_stereo_rig_in_millimetres_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--baseline 540: .*millimetres\? use --baseline 0\.54"):
        DataConfig(source="stereo-folder", root=str(tmp_path), focal=700.0, baseline=540.0)
    with pytest.raises(ValueError, match=r"--baseline 540: .*use --baseline 0\.54"):
        PredictOptions(baseline=540.0)
    with pytest.raises(ValueError, match=r"--max-depth 80000: .*use --max-depth 80"):
        DataConfig(max_depth=80_000.0)
    for k in range(2):
        write_png(tmp_path / "left" / f"{k}.png", noise_image(k, (24, 320)))
        write_png(tmp_path / "right" / f"{k}.png", noise_image(k, (24, 320)))
    # 4.2 (a phone lens in mm) at 320 px: a 177° field of view; 72,150 px at 320 px: 0.25°.
    with pytest.raises(ValueError, match=r"--focal 4\.2: .* 177° field of view; .*pixels .* not millimetres"):
        build_source(DataConfig(source="stereo-folder", root=str(tmp_path), focal=4.2, baseline=0.54))
    with pytest.raises(ValueError, match=r"--focal 72150: .*0\.25° field of view"):
        build_source(DataConfig(source="stereo-folder", root=str(tmp_path), focal=72150.0, baseline=0.54))
    ok = build_source(DataConfig(source="stereo-folder", root=str(tmp_path), focal=186.0, baseline=0.54))
    assert len(ok.frames) == 2


def test_the_page_refuses_a_baseline_in_millimetres() -> None:
    from ssrdepth.serve.service import Settings, UploadError

    with pytest.raises(UploadError, match=r"the baseline field 540: .*0\.54"):
        Settings(baseline=540.0)
    assert Settings(baseline=0.54).baseline == 0.54

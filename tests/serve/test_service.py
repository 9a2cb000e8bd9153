"""The work behind ``ssrdepth serve`` without a server: uploads of every kind decoded as ``predict``
decodes files (EXIF orientation honoured), limits, model discovery and its messages, the outputs, and
Gradio kept out of the rest of the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from ssrdepth.cli import main as cli
from ssrdepth.core.image import read_image
from ssrdepth.inference.inputs import InputLimits
from ssrdepth.inference.outputs import read_ply, read_png16
from ssrdepth.inference.predict import load_model, predict
from ssrdepth.serve.service import (
    ModelCache,
    Settings,
    UploadError,
    check_frame,
    find_demo_models,
    predict_image,
    predict_video,
    read_upload,
    resolve_models,
)

from ..conftest import require_module
from ..inference.conftest import VP8, brightness_model, luma, magma, mean_abs, read_video, write_video
from .conftest import make_checkpoint


def _rgb(h: int = 30, w: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("kind", ["rgb8", "grey8", "rgba8", "rgb16", "grey16", "jpeg"])
def test_uploads_decode_as_predict_reads_files(tmp_path: Path, kind: str) -> None:
    rgb = _rgb()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    arrays = {
        "rgb8": bgr,
        "grey8": rgb[:, :, 0],
        "rgba8": np.dstack([bgr, np.full(rgb.shape[:2], 128, np.uint8)]),
        "rgb16": bgr.astype(np.uint16) * 257,
        "grey16": rgb[:, :, 1].astype(np.uint16) * 257,
        "jpeg": bgr,
    }
    path = tmp_path / ("photo.jpg" if kind == "jpeg" else "photo.png")
    assert cv2.imwrite(str(path), arrays[kind])
    image = read_upload(path)
    assert image.shape == (30, 50, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, read_image(path))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_honoured_like_pil(tmp_path: Path, orientation: int) -> None:
    rgb = _rgb(24, 40)
    path = tmp_path / "phone.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(read_upload(path), upright)


def test_bad_uploads_are_refused_with_a_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(UploadError, match=r"empty\.png: the file is empty"):
        read_upload(empty)
    text = tmp_path / "notes.png"
    text.write_text("hello " * 100)
    with pytest.raises(UploadError, match=r"notes\.png: not an image that can be decoded"):
        read_upload(text)
    big = tmp_path / "big.png"
    assert cv2.imwrite(str(big), _rgb(200, 300))
    with pytest.raises(UploadError, match=r"is 1\d\d\.\d kB, more than the 0.1 kB accepted"):
        read_upload(big, max_bytes=100)
    with pytest.raises(UploadError, match=r"300×200 pixels \(0\.06 Mpx\) is more than"):
        read_upload(big, limits=InputLimits(max_pixels=10_000))
    with pytest.raises(UploadError, match="camera frame is empty"):
        check_frame(np.zeros((0, 0, 3), np.uint8))
    assert check_frame(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(UploadError, match="positive number"):
        Settings(focal=-1.0)


def test_models_found_or_a_message_saying_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "runs" / "demo"
    for run, files in {"a/SCRX": ["latest.pt", "best.pt"], "b/SCR": ["latest.pt"]}.items():
        (root / run).mkdir(parents=True)
        for f in files:
            (root / run / f).write_bytes(b"x")
    assert find_demo_models(root) == [root / "a/SCRX/best.pt", root / "b/SCR/latest.pt"]
    assert resolve_models([], root) == find_demo_models(root)
    with pytest.raises(FileNotFoundError, match=r"nope\.pt: no such checkpoint"):
        resolve_models([tmp_path / "nope.pt"], root)
    # A run folder named on the command line: its best.pt, else latest.pt, like every command.
    assert resolve_models([root / "a/SCRX", root / "b/SCR"], root) == find_demo_models(root)
    with pytest.raises(
        FileNotFoundError, match=r"demo: a folder without a checkpoint .*run folders under it: a/SCRX, b/SCR"
    ):
        resolve_models([root], root)
    # No model anywhere: the command says how to get one, without a traceback.
    assert cli(["serve", "--demo-root", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no model to serve" in err and "make demo" in err and "ssrdepth train" in err
    assert "this ssrdepth ships no pretrained model (no street-scrxu-147x37.pt in " in err
    assert cli(["serve", "bundled"]) == 2
    assert "ssrdepth serve: error: this ssrdepth ships no pretrained model" in capsys.readouterr().err


def test_with_no_model_named_nor_trained_the_bundled_model_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssrdepth.checkpoint import save_checkpoint
    from ssrdepth.models import create_model
    from ssrdepth.pretrained import ENV_VAR, write_bundle
    from ssrdepth.serve.app import _label

    full = save_checkpoint(
        tmp_path / "full.pt", create_model("SCRXU", 1, width=0.125), input_size=(37, 147), step=3
    )
    card = {"trained_on": "synthetic streets", "real_kitti": {}, "synthetic": {}, "licence": "MIT"}
    slim = write_bundle(full, card, tmp_path / "bundle")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "bundle"))
    root = tmp_path / "runs" / "demo"
    assert resolve_models([], root) == [slim]
    assert resolve_models(["bundled", full], root) == [slim, full]
    model = ModelCache(backend="torch").get(slim)
    assert (model.name, model.step, model.source) == ("SCRXU", 3, slim.resolve())
    rgb = _rgb(37, 147)
    np.testing.assert_array_equal(predict(model, rgb), predict(load_model(full, backend="torch"), rgb))
    assert _label(slim) == "street-scrxu-147x37 (bundled)"


def test_predict_image_outputs(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "model.pt")
    cache = ModelCache()
    model = cache.get(ckpt)
    assert cache.get(str(ckpt)) is model  # loaded once, shared
    rgb = _rgb(40, 120)
    res = predict_image(model, rgb, Settings("depth"), tmp_path / "out", "x")
    np.testing.assert_allclose(res.values, predict(load_model(ckpt), rgb, "depth"), rtol=1e-6)
    assert (res.quantity, res.unit) == ("depth", "m") and res.colour.shape == (40, 120, 3)
    assert res.colorbar.ndim == 3 and res.colorbar.shape[1] == 640
    _, meta = read_png16(tmp_path / "out" / "x_depth.png")
    assert meta["focal_px"] == pytest.approx(721.5 * 120 / 1242) and meta["baseline_m"] == 0.54
    assert len(read_ply(tmp_path / "out" / "x.ply")) == 40 * 120
    assert res.cloud is not None and res.cloud.is_file() and not res.notes
    assert "model" in res.timing_text()
    # A checkpoint without a camera: depth needs the fields; normalised has no point cloud.
    bare = load_model(make_checkpoint(tmp_path / "bare.pt", {"kind": "disparity", "max_value": 192.0}))
    with pytest.raises(UploadError, match="fill in both fields"):
        predict_image(bare, rgb, Settings("depth"), tmp_path / "out2")
    res = predict_image(bare, rgb, Settings("depth", focal=100.0, baseline=0.5), tmp_path / "out2")
    np.testing.assert_allclose(res.values, predict(bare, rgb, "depth", focal=100.0, baseline=0.5), rtol=1e-6)
    plain = load_model(make_checkpoint(tmp_path / "plain.pt", {"kind": "normalised", "max_value": 1.0}))
    res = predict_image(plain, rgb, Settings(), tmp_path / "out3")
    assert res.quantity == "normalised" and res.cloud is None and "no physical scale" in res.notes[0]
    with pytest.raises(UploadError, match="only normalised is available"):
        predict_image(plain, rgb, Settings("disparity"), tmp_path / "out3")


def test_short_video_side_by_side(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, 7, h=32, w=64, fade=12)  # the background brightens: 40 … 88 in 5 frames
    model = brightness_model((32, 64))  # its map is the frame's luma: it moves with the bar
    res = predict_video(model, video, Settings(), tmp_path / "out", limits=InputLimits(max_frames=5))
    assert (res.frames, res.truncated) == (5, True)
    inputs = read_video(video)[:5]
    # The first frame's map, written beside the video, is its luma; its 1–99 % is the clip's colour range.
    values, meta = read_png16(tmp_path / "out" / "clip_normalised.png")
    np.testing.assert_allclose(values, luma(inputs[0]), atol=1e-4)
    lo, hi = np.percentile(luma(inputs[0]), [1, 99])
    assert res.first.vrange == pytest.approx((lo, hi)) and meta["colormap"] == "magma"
    frames = read_video(res.video)
    assert len(frames) == 5 and frames[0].shape == (32, 128, 3)
    for i, (frame, rgb) in enumerate(zip(frames, inputs, strict=True)):
        # VP8 (lossy): within VP8 grey levels on average (measured) of the frame and its map's colours.
        assert mean_abs(frame[:, :64], rgb) < VP8, i
        assert mean_abs(frame[:, 64:], magma(luma(rgb), lo, hi)) < VP8, i
        if i:  # ... a tolerance that tells frames apart: far from the previous frame's map
            assert mean_abs(frame[:, 64:], magma(luma(inputs[i - 1]), lo, hi)) > 3 * VP8
    not_video = tmp_path / "fake.mp4"
    not_video.write_bytes(b"nothing here" * 10)
    with pytest.raises(UploadError, match=r"fake\.mp4: no frame could be decoded"):
        predict_video(model, not_video, Settings(), tmp_path / "out")


def test_gradio_is_imported_only_by_the_page() -> None:
    code = (
        "import sys, ssrdepth.cli, ssrdepth.inference.predict, ssrdepth.serve.service, ssrdepth.cli.serve; "
        "from ssrdepth.cli import COMMANDS; import importlib; "
        "[importlib.import_module(m) for m, _ in COMMANDS.values()]; "
        "print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_too_large_upload_is_a_message_in_the_page(tmp_path: Path) -> None:
    gr = require_module("gradio", "the page needs the [serve] extra (gradio)")
    from ssrdepth.serve.app import App

    ckpt = make_checkpoint(tmp_path / "model.pt")
    big = tmp_path / "big.png"
    assert cv2.imwrite(str(big), _rgb(100, 100))
    app = App([ckpt], max_bytes=1000)
    with pytest.raises(gr.Error, match=r"big\.png: the file is .* kB, more than the 1\.0 kB accepted"):
        app.predict(str(big), None, str(ckpt), "native", None, None, "magma")
    with pytest.raises(gr.Error, match="nothing to predict"):
        app.predict(None, None, str(ckpt), "native", None, None, "magma")
    with pytest.raises(gr.Error, match="unknown model"):
        app.predict(str(big), None, str(tmp_path / "other.pt"), "native", None, None, "magma")
    # A webcam frame takes the same path as an upload.
    out = app.predict(None, _rgb(20, 60), str(ckpt), "disparity", None, None, "turbo")
    assert out[2].startswith("disparity [px], 60×20 px")


def test_binds_to_this_machine_by_default() -> None:
    import argparse

    from ssrdepth.cli.serve import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["model.pt"])
    assert (args.host, args.port, args.models) == ("127.0.0.1", 7860, ["model.pt"])


def test_uncertainty_and_steady_video_on_the_page(tmp_path: Path) -> None:
    from ssrdepth.inference.predict import DepthModel

    # Uncertainty: a network that is not mirror-symmetric (its grey input times a left-to-right ramp
    # 0.5 … 1.5); on a uniform grey photo the flip disagreement is |r − r_rev| (worked out in
    # tests/inference/test_predict.py::test_uncertainty_output_by_hand).
    ramp = np.linspace(0.5, 1.5, 50, dtype=np.float32)
    model = DepthModel(
        name="ramp", in_channels=1, input_size=(30, 50), target={}, source=Path("ramp"),
        backend="onnxruntime", device="cpu", step=0, run=lambda batch: batch[:, :1] * ramp,
    )  # fmt: skip
    grey = np.full((30, 50, 3), 128, np.uint8)
    res = predict_image(model, grey, Settings(uncertainty=True), tmp_path / "u", "grey")
    assert res.uncertainty is not None and res.uncertainty_colour is not None
    np.testing.assert_allclose(res.uncertainty, np.tile(np.abs(ramp - ramp[::-1]), (30, 1)), rtol=1e-5)
    assert res.uncertainty_colour.shape == (30, 50, 3)
    assert {p.name for p in res.files} >= {"grey_uncertainty.npy", "grey_uncertainty_color.png"}
    assert predict_image(model, grey, Settings(), tmp_path / "plain", "grey").uncertainty is None
    # Steady video: the colour half of each frame is the stabilised map (the filter written out here).
    video = tmp_path / "clip.mp4"
    write_video(video, 8, h=32, w=64, fade=12)
    res_v = predict_video(brightness_model((32, 64)), video, Settings(stabilise=True), tmp_path / "v")
    inputs = read_video(video)
    lo, hi = res_v.first.vrange
    previous, moved = None, 0.0
    for i, (frame, rgb) in enumerate(zip(read_video(res_v.video), inputs, strict=True)):
        log_p = np.log(np.maximum(luma(rgb).astype(np.float64), 1e-4))
        if previous is not None:  # the defaults: β = 0.8 of the scale change, then λ = 0.95, τ = 0.35
            d = log_p - previous
            reliable = np.abs(d) < 0.35
            log_p = log_p - 0.8 * np.median(d[reliable]) * (reliable.mean() >= 0.2)
            d = log_p - previous
            log_p = log_p - 0.95 * np.exp(-((d / 0.35) ** 2)) * d
        previous = log_p
        steady = np.exp(log_p).astype(np.float32)
        assert mean_abs(frame[:, 64:], magma(steady, lo, hi)) < VP8, i
        moved = max(moved, mean_abs(magma(steady, lo, hi), magma(luma(rgb), lo, hi)))
    assert moved > 2 * VP8  # the filter changed the maps by more than the codec's error

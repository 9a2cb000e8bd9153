"""``ssrdepth serve`` through its HTTP API (``gradio_client``), as a program would use it: the served
map equals ``ssrdepth predict``'s, the downloads read back, bad uploads get a message."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.core.image import read_image
from ssrdepth.inference.outputs import read_ply, read_png16
from ssrdepth.inference.predict import load_model, predict
from ssrdepth.serve.service import map_stats

from ..conftest import require_module
from ..inference.conftest import VP8, magma, mean_abs, read_video, write_video
from .conftest import Server

pytestmark = [
    pytest.mark.xdist_group("serve"),
    pytest.mark.slow,
    # Gradio's queue calls pandas in ways pandas 3 deprecates: not ours to fix.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
]


def _image(path: Path, h: int = 90, w: int = 240) -> Path:
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), np.full_like(xx, 90)], axis=2).astype(np.uint8)
    rgb[h // 4 : h // 2, w // 4 : w // 2] = 230
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _call(
    server: Server,
    file: Path,
    quantity: str = "native",
    focal: float | None = None,
    uncertainty: bool = False,
    **camera: object,
) -> tuple:
    """The page's ``/predict`` with its first nine inputs, as clients written before the camera
    options call it; ``camera`` adds ``fov``, ``calib`` (a file) and ``exif`` by name."""
    from gradio_client import Client, handle_file

    client = Client(server.url, verbose=False)
    named = {k: handle_file(str(v)) if k == "calib" else v for k, v in camera.items()}
    return tuple(
        client.predict(
            handle_file(str(file)),
            None,
            str(server.checkpoint),
            quantity,
            focal,
            None,
            "magma",
            uncertainty,
            False,
            api_name="/predict",
            **named,
        )
    )


def _numbers(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (line.split(": ") for line in text.splitlines()[1:])}


def test_served_map_equals_predict(server: Server, tmp_path: Path) -> None:
    require_module("gradio_client", "the API test needs the [serve] extra (gradio_client)")
    image = _image(tmp_path / "street.png")
    comparison, bar, numbers, timing, downloads, cloud, video, notes, uncertainty = _call(server, image)
    expected = predict(load_model(server.checkpoint), image)  # the predict command's backend (auto)
    assert numbers.startswith("disparity [px], 240×90 px")
    for key, value in map_stats(expected).items():
        assert _numbers(numbers)[key] == pytest.approx(value, rel=1e-6), key
    files = {Path(f).suffix: Path(f) for f in downloads}
    np.testing.assert_allclose(np.load(files[".npy"]), expected, rtol=1e-6, atol=1e-6)
    png, meta = read_png16(files[".png"])
    assert meta["quantity"] == "disparity" and meta["unit"] == "px"
    np.testing.assert_allclose(png, expected, atol=0.5 / 256 + 1e-6)  # KITTI's ×256 encoding
    points = read_ply(files[".ply"])
    assert len(points) == 240 * 90 and np.all(points["z"] > 0)
    assert Path(cloud).suffix == ".ply" and video is None and notes == ""
    before, after = (cv2.imread(p) for p in comparison)
    assert before.shape == after.shape == (90, 240, 3) and after.std() > 0
    assert cv2.imread(bar).shape[1] > 100
    assert "model" in timing and "total" in timing
    assert uncertainty is None  # not asked for
    # Asked for: the picture, and the values as a download equal to predict's flip uncertainty.
    *_, downloads_u, _, _, _, picture = _call(server, image, uncertainty=True)
    from ssrdepth.inference.maps import predict_with_uncertainty

    _, (expected_u,) = predict_with_uncertainty(load_model(server.checkpoint), [read_image(image)])
    served_u = next(Path(f) for f in downloads_u if Path(f).name.endswith("_uncertainty.npy"))
    np.testing.assert_allclose(np.load(served_u), expected_u, rtol=1e-5, atol=1e-6)
    assert cv2.imread(picture).shape == (90, 240, 3)


def test_depth_with_the_checkpoints_camera(server: Server, tmp_path: Path) -> None:
    image = _image(tmp_path / "street.png")
    numbers = _call(server, image, "depth")[2]
    expected = predict(load_model(server.checkpoint), image, "depth")
    assert numbers.startswith("depth [m]")
    assert _numbers(numbers)["median"] == pytest.approx(float(np.median(expected)), rel=1e-6)
    # A focal length given in the page overrides the checkpoint's (px at the image's width).
    numbers = _call(server, image, "depth", focal=100.0)[2]
    expected = predict(load_model(server.checkpoint), image, "depth", focal=100.0)
    assert _numbers(numbers)["max"] == pytest.approx(float(expected.max()), rel=1e-6)


def test_camera_options_through_the_api(server: Server, tmp_path: Path) -> None:
    import json

    image = _image(tmp_path / "street.png")
    model = load_model(server.checkpoint)
    # 90° across 240 px: fx = 120 px
    out = _call(server, image, "depth", fov=90.0)
    expected = predict(model, image, "depth", focal=120.0)
    assert _numbers(out[2])["max"] == pytest.approx(float(expected.max()), rel=1e-6)
    assert "camera: focal 120.0 px at 240 px wide, from --fov 90°" in out[7]
    files = {Path(f).suffix: Path(f) for f in out[4]}
    assert read_png16(files[".png"])[1]["focal_source"] == "--fov 90°"
    # An uploaded calibration file (OpenCV JSON at 480 wide: 300 px → 150 px at 240)
    calib = tmp_path / "camera.json"
    calib.write_text(json.dumps({"K": [300, 0, 240, 0, 300, 90, 0, 0, 1], "width": 480, "height": 180}))
    out = _call(server, image, "depth", calib=calib)
    expected = predict(model, image, "depth", focal=150.0)
    assert _numbers(out[2])["max"] == pytest.approx(float(expected.max()), rel=1e-6)
    ply = next(Path(f) for f in out[4] if f.endswith(".ply"))  # its header records the camera
    line = next(x for x in ply.read_bytes().split(b"end_header")[0].decode().splitlines() if "camera:" in x)
    cam = json.loads(line.partition("camera: ")[2])
    assert (cam["fx"], cam["cx"], cam["cy"]) == pytest.approx((150.0, 120.0, 45.0))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"the calibration file bad\.json: no camera matrix"):
        _call(server, image, calib=bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"this is not an image" * 10, "not an image that can be decoded"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "not an image that can be decoded"),
    ],
    ids=["empty", "text", "truncated-png"],
)
def test_bad_upload_gets_a_message(server: Server, tmp_path: Path, content: bytes, message: str) -> None:
    from gradio_client.exceptions import AppError

    bad = tmp_path / "upload.png"
    bad.write_bytes(content)
    with pytest.raises(AppError, match=message):
        _call(server, bad)
    # ... and the server still answers.
    assert _call(server, _image(tmp_path / "ok.png"))[2].startswith("disparity")


def test_short_video(server: Server, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    write_video(clip, 6, h=48, w=96, fade=12)
    out = _call(server, clip)
    video = out[6]
    assert Path(video).suffix == ".webm"
    assert out[2].startswith("disparity [px], 96×48 px") and "video 6 frame(s)" in out[3]
    # Every frame, decoded: the input beside its map through magma over the first frame's 1–99 %.
    inputs = read_video(clip)
    model = load_model(server.checkpoint)
    maps = [predict(model, rgb, "disparity") for rgb in inputs]
    lo, hi = np.percentile(maps[0], [1, 99])
    frames = read_video(Path(video))
    assert len(frames) == len(inputs) == 6 and frames[0].shape == (48, 192, 3)
    for i, (frame, rgb, values) in enumerate(zip(frames, inputs, maps, strict=True)):
        assert mean_abs(frame[:, :96], rgb) < VP8, i  # VP8's measured error
        assert mean_abs(frame[:, 96:], magma(values, lo, hi)) < VP8, i
        if i:  # the previous frame's map is measurably farther (7.0 grey levels and more)
            assert mean_abs(frame[:, 96:], magma(maps[i - 1], lo, hi)) > VP8, i
